"""How the kit's modules import each other: no circle, no use of another module's private names, models
never reach into datasets, and an import inside a function says why it waits."""
import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("utils", "setup", "tools")


def module_name(path):
    """'utils.models.vgg16' for utils/models/vgg16.py ('utils.models' for its __init__.py)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def kit_modules():
    """{module name: parsed tree} of every module the kit installs, parsed once for all the checks."""
    return {module_name(p): ast.parse(p.read_text()) for package in PACKAGES
            for p in sorted((ROOT / package).rglob("*.py"))}


def resolve(name, modules):
    """The kit module an imported name lands in: 'utils.models.vgg16.Vgg16' -> 'utils.models.vgg16'."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports(tree, modules):
    """(line, imported module, names taken from it, whether inside a function) for each kit import."""
    found = []
    functions = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        nested = id(node) in functions
        if isinstance(node, ast.Import):
            for alias in node.names:
                if resolve(alias.name, modules):
                    found.append((node.lineno, resolve(alias.name, modules), [], nested))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                target = full if full in modules else resolve(node.module, modules)
                if target:
                    found.append((node.lineno, target, [] if full in modules else [alias.name], nested))
    return found


def graph(modules):
    """{module: {modules it imports}}, at module level and inside functions alike."""
    return {name: {target for _, target, _, _ in imports(tree, modules) if target != name}
            for name, tree in modules.items()}


def circles(edges):
    """The groups of modules that import each other round a circle (Tarjan's strongly connected sets)."""
    index, low, stack, on_stack, groups, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def private_uses(modules):
    """'module:line uses other._name' for each private name taken from another kit module."""
    uses = []
    for name, tree in modules.items():
        aliases = {}
        for line, target, names, _ in imports(tree, modules):
            if target == name:
                continue
            uses += [f"{name}:{line} imports {target}.{n}" for n in names if n.startswith("_")]
        for node in ast.walk(tree):  # `import utils.datasets.dogscats as dc` ... dc._draw(...)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    full = alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
                    if full in modules and full != name:
                        aliases[alias.asname or alias.name.split(".")[-1]] = full
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id in aliases):
                uses.append(f"{name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return sorted(set(uses))


def waiting_without_a_reason(modules):
    """'module:line' for each import inside a function with no comment saying why it waits."""
    found = []
    for name, tree in modules.items():
        path = ROOT / (name.replace(".", "/") + ".py")
        path = path if path.exists() else path.with_suffix("") / "__init__.py"
        lines = path.read_text().splitlines()
        for func in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and not says_why(lines, node.lineno):
                    found.append(f"{name}:{node.lineno}")
    return sorted(set(found))


def says_why(lines, line):
    """Whether an import (1-based line), or the block of imports it ends, carries a comment."""
    while True:
        text = lines[line - 1]
        if "#" in text or lines[line - 2].strip().startswith("#"):
            return True
        if not re.match(r"\s*(import|from) ", lines[line - 2]):
            return False
        line -= 1


def test_no_module_of_the_kit_imports_round_a_circle():
    assert circles(graph(kit_modules())) == []


def test_the_circle_check_finds_a_circle_through_a_function_level_import():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_uses_another_modules_private_names():
    assert private_uses(kit_modules()) == []


def test_models_never_import_datasets():
    edges = graph(kit_modules())
    assert [f"{m} imports {t}" for m in sorted(edges) if m.startswith("utils.models")
            for t in sorted(edges[m]) if t.startswith("utils.datasets")] == []


def test_an_import_inside_a_function_says_why_it_waits():
    assert waiting_without_a_reason(kit_modules()) == []
