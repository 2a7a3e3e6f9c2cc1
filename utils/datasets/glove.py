"""Word vectors (lesson 5): GloVe and fastText, downloaded and loaded with care.

Stanford's GloVe 6B vectors were learnt from 6 billion words of Wikipedia and news: 400,000
lowercase words, each a line `word v1 v2 ... v50` (or 100, 200, 300 numbers) in the files of
`glove.6B.zip` (about 822 MB). Words used in similar ways get similar vectors, which gives a
sentiment model a head start: it already knows "superb" is like "excellent".

A truncated or damaged file raises an error before any matrix is built. The embedding matrix for a
vocabulary, in which a word GloVe lacks gets a documented random vector and is counted, is the
lesson's `glove_matrix` (nbs/lesson5.ipynb, generated into `utils.lessons.lesson5`).
The file lists words from the most to the least frequent, so `DATA='sample'` is its first 50,000
words: the vectors of the commonest words, which is most of what a review uses.

Other languages: fastText publishes vectors for 157 languages (`cc.<lang>.300.vec.gz`, e.g.
`cc.ja.300` for Japanese: 2,000,000 words, 1.3 GB compressed). Their text format is GloVe's with a
first line `<words> <dim>`, so one reader, `load_vectors`, reads both, straight from the gzip file
and a line at a time, stopping at a cap on the words read (the most frequent come first).
Japanese is written without spaces, so text must be split into words before its words can be
looked up; fastText split its Japanese with MeCab, which `japanese_words` runs through the
optional packages fugashi and unidic-lite (`pip install fugashi unidic-lite`; SudachiPy is another
choice). The kit itself never needs them.
"""
import gzip
import itertools
import json
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.datasets import imdb
from utils.datasets.base import Data
from utils.datasets.standin import by_mode, kind, made, with_banner
from utils.download import DownloadError, download
from utils.paths import data_dir, standin_dir

GLOVE_URL = "https://nlp.stanford.edu/data/glove.6B.zip"
ARCHIVE = "glove.6B.zip"
GLOVE_6B_WORDS = 400_000
SAMPLE_WORDS = 50_000  # DATA='sample': the most frequent words, the file's first lines
COUNTS = "COUNTS.json"  # the stand-in's number of lines per file, checked as it is read
TITLE = "The GloVe 6B word-vector file"
DIM_LINES = 100  # a headerless file's numbers per word: what most of its first lines have
HOW_TO_GET = ("Real data: run with DATA='full' on a machine with internet; it downloads\n"
              f"{GLOVE_URL} (822 MB) into data/glove/ once.")
FASTTEXT_URL = "https://dl.fbaipublicfiles.com/fasttext/vectors-crawl/cc.{lang}.300.vec.gz"
FASTTEXT_HOW_TO_GET = ("Real vectors: get_fasttext('full', lang='{lang}') on a machine with internet downloads\n"
                       "cc.{lang}.300.vec.gz (1-2 GB) from dl.fbaipublicfiles.com into data/fasttext/ once.")
# The stand-in's words: groups of related meaning, so nearest neighbours have something to find.
STANDIN_GROUPS = [["犬", "猫", "動物", "ペット"], ["東京", "大阪", "京都", "都市"],
                  ["食べる", "飲む", "料理", "ご飯"], ["映画", "俳優", "監督", "作品"]]


class GloveFileError(ValueError):
    """A GloVe file or archive is incomplete or damaged."""


def filename(dim=50):
    """Name of the GloVe 6B file with `dim` numbers per word; lesson 5."""
    if dim not in (50, 100, 200, 300):
        raise ValueError(f"GloVe 6B comes in 50, 100, 200 or 300 dimensions, not {dim}.")
    return f"glove.6B.{dim}d.txt"


def download_glove(dim=50, origin=GLOVE_URL, cache_dir=None, file_hash=None,
                   expected_words=GLOVE_6B_WORDS):
    """Download glove.6B.zip (kept once whole), check it, extract one file; lesson 5."""
    return _fetch_glove(Path(cache_dir or data_dir()) / "glove", dim, origin, file_hash,
                        expected_words)


def _fetch_glove(folder, dim, origin, file_hash=None, expected_words=GLOVE_6B_WORDS):
    """The GloVe file with `dim` numbers per word in `folder`, downloaded and extracted once."""
    name = filename(dim)
    txt = folder / name
    if txt.exists():
        return txt
    archive = download(origin, folder / ARCHIVE, file_hash=file_hash, check=_whole_zip)
    try:
        extract(archive, name, txt, expected_words)
    except GloveFileError:
        archive.unlink()  # damaged: the next run downloads it again instead of failing again
        raise
    return txt


def _whole_zip(path):
    """Raise GloveFileError unless `path` is a zip whose directory can be read (not cut short)."""
    try:
        zipfile.ZipFile(path).close()
    except (zipfile.BadZipFile, OSError) as err:
        raise GloveFileError(f"not a complete zip archive ({err})") from None


def extract(archive, name, dest, expected_words=None):
    """Take one file out of the GloVe zip, checking the archive and the line count; lesson 5."""
    archive, dest = Path(archive), Path(dest)
    advice = f"Delete {archive} and download it again."
    if not zipfile.is_zipfile(archive):
        raise GloveFileError(f"{archive} is not a complete zip archive. {advice}")
    tmp = dest.with_suffix(".tmp")
    try:
        with zipfile.ZipFile(archive) as z:
            if name not in z.namelist():
                raise GloveFileError(f"{archive} has no {name} (it holds {z.namelist()}). {advice}")
            with z.open(name) as src, open(tmp, "wb") as out:  # a bad CRC raises at the end
                lines = sum(chunk.count(b"\n") for chunk in _copy(src, out))
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        tmp.unlink(missing_ok=True)
        raise GloveFileError(f"{archive} is damaged ({err}). {advice}") from None
    if expected_words and lines != expected_words:
        tmp.unlink()
        raise GloveFileError(f"{name} in {archive} has {lines:,} lines, expected "
                             f"{expected_words:,}. {advice}")
    tmp.rename(dest)  # renamed last: a half-extracted file is never taken for the real one
    return dest


def _copy(src, out, size=1 << 20):
    """Copy a stream in chunks, yielding each chunk."""
    while chunk := src.read(size):
        out.write(chunk)
        yield chunk


def load_vectors(path, dim=None, expected_words=None, limit=None):
    """Words and float32 vectors of a GloVe or fastText file (gzip or not), its first `limit`
    lines; a cut or damaged file raises; lesson 5.

    GloVe's lines are `word v1 ... vd`; fastText's `.vec` files start with a header
    `<words> <dim>` (which then says how many lines to expect) and end each line with a space.
    GloVe 840B has words holding spaces (". . .", "at name@domain.com"): the last `dim` fields
    are the numbers and the rest is the word. A word listed twice keeps its first vector, as
    fastText and gensim do. The file is read one line at a time, so a cap of 200,000 lines on a
    file of 2,000,000 reads and keeps only those.
    """
    words, rows, notes = _read_vectors(path, dim, expected_words, limit)
    for note in notes:
        print(note)  # called on its own; `get` keeps it among its record's notes instead
    return words, rows


def _read_vectors(path, dim=None, expected_words=None, limit=None):
    """`load_vectors`' words and vectors, and its notes (a word listed twice) as text."""
    path = Path(path)
    advice = f"The file looks truncated or damaged: delete {path} and download it again."
    words, seen, doubled, rows, total, last, n_read = [], set(), [], None, None, "", 0
    try:
        with _open_text(path) as f:
            head = list(itertools.islice(f, DIM_LINES))
            header = _header(_fields(head[0])) if head else None
            if header:
                total, dim = _check_header(path, header, dim)
            else:
                dim = _dim_of(path, head, dim)
            width = dim + 1
            rows = _grow(None, 0, dim, min(filter(None, (limit, total)), default=1024))
            for n, line in enumerate(itertools.chain(head[bool(header):], f), 1 + bool(header)):
                last = line
                parts = _fields(line)
                if len(parts) == width:
                    word, numbers = parts[0], parts[1:]
                elif len(parts) > width:  # a word holding spaces
                    word, numbers = " ".join(parts[:-dim]), parts[-dim:]
                else:
                    raise GloveFileError(f"{path}, line {n}: {len(parts) - 1} numbers after "
                                         f"{parts[0]!r}, expected {dim}. {advice}")
                n_read += 1
                if word in seen:
                    doubled.append(word)
                else:
                    seen.add(word)
                    rows = _grow(rows, len(words), dim, 0)
                    try:
                        rows[len(words)] = numbers
                    except ValueError:
                        raise GloveFileError(f"{path}, line {n}: not all numbers after {word!r}."
                                             f" {advice}") from None
                    words.append(word)
                if n_read == limit:
                    break
    except (EOFError, OSError, zlib.error) as err:  # gzip cut short or damaged
        raise GloveFileError(f"{path} could not be read to the end ({err}). {advice}") from None
    if not words:
        raise GloveFileError(f"{path} is empty. {advice}")
    if total is not None and n_read != min(total, limit or total):
        raise GloveFileError(f"{path} has {n_read:,} words, but its header promises "
                             f"{total:,}. {advice}")
    if expected_words is not None and limit is None and n_read != expected_words:
        raise GloveFileError(f"{path} has {n_read:,} words, expected {expected_words:,}. "
                             f"{advice}")
    if not last.endswith("\n"):
        # Both formats end every line with a newline; a cut in the middle of the last number
        # still parses, and only the missing newline tells
        raise GloveFileError(f"{path} ends in the middle of a line. {advice}")
    notes = (f"{path}: {len(doubled):,} word(s) listed more than once (e.g. {doubled[0]!r}); the"
             " first vector of each is kept, as fastText and gensim do.",) if doubled else ()
    rows.resize((len(words), dim), refcheck=False)  # the unused tail goes, in place
    return words, rows, notes


load_glove = load_vectors  # the name lesson 5 first meets it by


def _open_text(path):
    """A text stream of a plain or gzip file (told by its first bytes, not its name)."""
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    # newline="\n": a stray carriage return inside a word must not end its line. A byte that is
    # not UTF-8 (web-crawled vocabularies have a few) costs that word its spelling, not the load.
    opener = gzip.open if gz else open
    return opener(path, "rt", encoding="utf-8", errors="replace", newline="\n")


def _fields(line):
    """The space-parted fields of a line, without its newline and fastText's trailing space."""
    return line.rstrip("\n").rstrip(" ").split(" ")


def _dim_of(path, head, dim):
    """The numbers per word of a headerless file: the field count most of its first lines have,
    less one (a word holding spaces has more); it must agree with the `dim` asked for."""
    if not head:
        return dim or 1  # an empty file: refused once nothing is read
    common = Counter(len(_fields(line)) for line in head).most_common(1)[0][0] - 1
    if common < 1:
        raise GloveFileError(f"{path} has no numbers after its words: it is not a word-vector"
                             " file. Delete it and download it again.")
    if dim is not None and dim != common:
        raise GloveFileError(f"{path} holds {common}-number vectors (most of its first lines have"
                             f" that many), not {dim}; ask for dim={common}.")
    return common


def _header(parts):
    """(words, dim) from fastText's first line `<words> <dim>`, or None for a line of vectors."""
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _check_header(path, header, dim):
    total, file_dim = header
    if dim is not None and dim != file_dim:
        raise GloveFileError(f"{path} holds {file_dim}-number vectors (its header says so),"
                             f" not {dim}; ask for dim={file_dim}.")
    return total, file_dim


def _grow(rows, n, dim, known):
    """A float32 buffer with room for row `n`: sized to the known count, else doubled as needed."""
    if rows is None:  # a first guess of at most a million rows: a wild cap must not take memory
        return np.empty((max(1, min(known, 1 << 20)), dim), dtype=np.float32)
    if n < len(rows):
        return rows
    rows.resize((2 * len(rows), dim), refcheck=False)  # in place: no second copy alive
    return rows


def nearest(word, words, vectors, n=8):
    """The `n` words whose vectors point most the same way as `word`'s (cosine); lesson 5."""
    lookup = {w: i for i, w in enumerate(words)}
    if word not in lookup:
        raise KeyError(f"{word!r} is not among the {len(words):,} words loaded (a cap on the words"
                       " read leaves the rarer ones out).")
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = unit @ unit[lookup[word]]
    best = [i for i in np.argsort(-sims) if words[i] != word][:n]
    return [(words[i], float(sims[i])) for i in best]


def pca_2d(vectors):
    """The two directions along which vectors spread most, as 2-D points (PCA); lesson 5."""
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


STANDIN_DOCS = 6000   # documents of the stand-in's "pretraining" writing
STANDIN_WINDOW = 10   # words either side that count as context, as GloVe's default
STANDIN_CONTEXTS = 1000  # the commonest words, whose company each word's vector describes
STANDIN_SPREAD = 0.4  # each number's spread, as in GloVe 6B's 50-number vectors


def cooccurrence(docs, vocab, window=STANDIN_WINDOW):
    """Counts of word j within `window` words of word i, weighted 1/distance as GloVe weighs
    them, summed over `docs` (lists of words): a symmetric (V, V) array; lesson 5."""
    index = {w: i for i, w in enumerate(vocab)}
    gap = np.full(window, -1)  # no context crosses from one document into the next
    ids = np.concatenate([np.r_[[index.get(w, -1) for w in d], gap] for d in docs])
    n = len(vocab)
    codes, weights = [], []
    for d in range(1, window + 1):
        a, b = ids[:-d], ids[d:]
        keep = (a >= 0) & (b >= 0)
        codes.append(a[keep] * n + b[keep])
        weights.append(np.full(int(keep.sum()), 1.0 / d))
    counts = np.bincount(np.concatenate(codes), np.concatenate(weights), minlength=n * n)
    counts = counts.reshape(n, n)
    return counts + counts.T


def learn_vectors(counts, dim=50, seed=0, n_contexts=STANDIN_CONTEXTS, spread=STANDIN_SPREAD):
    """Word vectors from co-occurrence counts: the positive pointwise mutual information of each
    word with each of the `n_contexts` commonest words, squeezed to `dim` numbers per word by a
    truncated SVD (a close cousin of GloVe's own fit), at GloVe's spread; lesson 5."""
    from sklearn.utils.extmath import randomized_svd  # scikit-learn only to learn the stand-in's vectors
    common = np.argsort(-counts.sum(axis=0), kind="stable")[:n_contexts]
    counts = counts[:, common]
    total = counts.sum()
    row, col = counts.sum(axis=1, keepdims=True), counts.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore"):
        pmi = np.log(counts * total / np.maximum(row * col, 1e-12))
    ppmi = np.maximum(pmi, 0.0).astype(np.float32)  # pairs seen less often than chance: 0
    from threadpoolctl import threadpool_limits  # only to learn the stand-in's vectors
    with threadpool_limits(limits=1):  # a matrix this small: more threads only wait on each other
        u, _, _ = randomized_svd(ppmi, dim, n_iter=3, random_state=seed)
    # every direction weighted alike (the singular values left out), so the few largest, which
    # say mostly how common a word is and whether it is an opinion, do not drown the rest
    vectors = u - u.mean(axis=0)
    return (vectors * spread / vectors.std()).astype(np.float32)


# The functions that draw the stand-in's vectors, the reviews' writing included: an edit to any
# of them draws it anew.
DRAWING = (cooccurrence, learn_vectors, imdb.writing, *imdb.DRAWING)


@dataclass(frozen=True)
class Standin:
    """The GloVe stand-in's settings: the writing its vectors are learnt from, and its words."""
    n_docs: int = STANDIN_DOCS
    window: int = STANDIN_WINDOW
    n_contexts: int = STANDIN_CONTEXTS
    spread: float = STANDIN_SPREAD
    drop: float = 0.03   # share of the vocabulary left out, as real GloVe lacks some words
    n_extra: int = 500   # words no review uses, as GloVe holds many more words than reviews


def make_standin(vocab_words, dest=None, standin=Standin(), *, dim=50, seed=0):
    """Write a glove.6B-format stand-in for `vocab_words` (a few left out on purpose), unless the
    one in `dest` was drawn by the same code, settings and words; its file; lesson 5.

    Like GloVe, the vectors are learnt, not placed: from which words appear near which in other
    writing in the stand-in reviews' language (`imdb.writing`: opinions of films, unlabelled,
    and plain prose), so words used alike, "superb" and "excellent", end up alike. Words that
    writing never uses get random vectors (meaning nothing), and a few of `vocab_words` (never
    a word of opinion or about films) are left out, as real GloVe lacks some words of reviews.
    """
    name = filename(dim)
    dest = made(Path(dest or standin_dir() / "glove"), _draw, standin, *DRAWING,
                what=f"Synthetic GloVe-format vectors, seed {seed}, learnt from co-occurrences in "
                     "synthetic writing.\n" + HOW_TO_GET,
                vocab_words=list(vocab_words), dim=dim, seed=seed)
    return dest / name


def _draw(dest, standin, vocab_words, dim, seed):
    """Learn vectors from the stand-in reviews' writing and write them, a word a line, with the
    file's line count."""
    rng = np.random.default_rng(seed)
    docs = imdb.writing(standin.n_docs, seed)
    seen = sorted({w for d in docs for w in d})
    counts = cooccurrence(docs, seen, standin.window)
    learnt = dict(zip(seen, learn_vectors(counts, dim, seed, standin.n_contexts, standin.spread)))
    known = {*imdb.POSITIVE, *imdb.NEGATIVE, *imdb.MOVIE_WORDS, imdb.NEGATION}  # English words
    words = [w for w in vocab_words if w in known or rng.random() > standin.drop]
    words += [f"{w}{w[-1]}s" for w in vocab_words[:standin.n_extra]]  # words no review uses
    lines = []
    for w in words:
        v = learnt[w] if w in learnt else rng.normal(0, standin.spread, dim)
        lines.append(w + " " + " ".join(f"{x:.5f}" for x in v) + "\n")
    (dest / filename(dim)).write_text("".join(lines), encoding="utf-8")
    (dest / COUNTS).write_text(json.dumps({filename(dim): len(lines)}))


def get(data="auto", *, dim=50, vocab_words=None, path=None, origin=GLOVE_URL,
        n_sample=SAMPLE_WORDS, standin=Standin(), seed=0):
    """GloVe 6B as a Data record with parts 'words' and 'vectors'; lesson 5.

    'full': all 400,000 words, downloaded from `origin` into `path` (default: data/glove/);
    'sample': the `n_sample` most frequent; 'standin': vectors for `vocab_words` (the stand-in
    reviews' words), drawn from `seed`; 'auto': the real ones, else the stand-in.
    """
    return by_mode(data, "GloVe", lambda mode: _get_real(mode, dim, path, origin, n_sample),
                   lambda: _get_standin(dim, vocab_words, standin, seed),
                   (DownloadError, GloveFileError))


def _get_real(mode, dim, path, origin, n_sample):
    """The real vectors, all of them or the first `n_sample` words'."""
    file = _fetch_glove(Path(path or data_dir() / "glove"), dim, origin,
                        expected_words=GLOVE_6B_WORDS)
    read = _read_vectors(file, dim, GLOVE_6B_WORDS, limit=n_sample if mode == "sample" else None)
    return _record(file, mode, False, *read)


def _get_standin(dim, vocab_words, standin, seed):
    """The stand-in vectors for `vocab_words`, drawn once, with its banner."""
    if vocab_words is None:
        raise ValueError("The GloVe stand-in needs the words of the stand-in reviews: "
                         "pass vocab_words.")
    file = make_standin(vocab_words, standin=standin, dim=dim, seed=seed)
    expected = json.loads((file.parent / COUNTS).read_text())[file.name]
    record = _record(file, "standin", True, *_read_vectors(file, dim, expected))
    return with_banner(record, TITLE, HOW_TO_GET)


def _record(path, mode, standin, words, vectors, notes=()):
    """The Data record of a GloVe file; `notes` say what reading it found (a word listed twice)."""
    return Data(name="glove", path=Path(path), standin=standin, mode=mode,
                parts={"words": words, "vectors": vectors}, info={"dim": vectors.shape[1]},
                notes=tuple(notes),
                summary=f"GloVe 6B: {kind(mode, standin)}, {len(words):,} words of "
                        f"{vectors.shape[1]} numbers, at {path}")


# ---------------------------------------------------------------------------------------------
# fastText: word vectors for 157 languages


def fasttext_url(lang):
    """Where fastText's Common Crawl + Wikipedia vectors for a language are; lesson 5."""
    if not (lang.isascii() and lang.isalpha() and 2 <= len(lang) <= 3):
        raise ValueError(f"fastText names languages by ISO code ('ja', 'fr', 'de'), not {lang!r}.")
    return FASTTEXT_URL.format(lang=lang.lower())


def download_fasttext(lang="ja", origin=None, cache_dir=None, file_hash=None):
    """Download `cc.<lang>.300.vec.gz` once into data/fasttext/ (1-2 GB, kept compressed); lesson 5."""
    return _fetch_fasttext(Path(cache_dir or data_dir()) / "fasttext", lang, origin, file_hash)


def _fetch_fasttext(folder, lang, origin=None, file_hash=None):
    """`cc.<lang>.300.vec.gz` in `folder`, downloaded once from `origin` (default: fastText's)."""
    url = origin or fasttext_url(lang)
    return download(url, folder / f"cc.{lang}.300.vec.gz", file_hash=file_hash,
                    check=_fasttext_start)


def _fasttext_start(path):
    """Raise GloveFileError unless `path` is gzip holding a fastText header line (cheap: 1 line)."""
    try:
        with _open_text(path) as f:
            header = _header(_fields(f.readline()))
    except (EOFError, OSError, zlib.error) as err:
        raise GloveFileError(f"not a readable gzip file ({err})") from None
    if header is None:
        raise GloveFileError("its first line is not fastText's header `<words> <dim>`")


@dataclass(frozen=True)
class FastTextStandin:
    """The fastText stand-in's size: numbers per word, and the noise words after the groups."""
    dim: int = 300
    n_noise: int = 1000


def make_fasttext_standin(dest=None, standin=FastTextStandin(), *, lang="ja", seed=0):
    """Write a small stand-in in the `cc.<lang>.300.vec.gz` format: header, gzip, trailing spaces,
    Japanese words in a few groups of related meaning plus noise words, unless the one in `dest`
    was drawn by the same code and settings; its file; lesson 5."""
    dest = made(Path(dest or standin_dir() / "fasttext"), _draw_fasttext, standin, STANDIN_GROUPS,
                what=f"Synthetic fastText-format vectors, seed {seed}.\n"
                     + FASTTEXT_HOW_TO_GET.format(lang=lang), lang=lang, seed=seed)
    return dest / f"cc.{lang}.300.vec.gz"


def _draw_fasttext(dest, standin, lang, seed):
    """Draw each group's words near a centre of its own, and noise words anywhere; write them."""
    rng = np.random.default_rng(seed)
    dim = standin.dim
    centres = rng.normal(0, 1, (len(STANDIN_GROUPS), dim))
    words, vecs = [], []
    for centre, group in zip(centres, STANDIN_GROUPS):
        for w in group:
            words.append(w)
            vecs.append(centre + rng.normal(0, 0.4, dim))
    words += [f"語{i}" for i in range(standin.n_noise)]
    vecs += list(rng.normal(0, 1, (standin.n_noise, dim)))
    with gzip.open(dest / f"cc.{lang}.300.vec.gz", "wt", encoding="utf-8", newline="\n") as f:
        f.write(f"{len(words)} {dim}\n")
        for w, v in zip(words, vecs):
            f.write(w + " " + "".join(f"{x:.4f} " for x in v) + "\n")


def get_fasttext(data="auto", *, lang="ja", limit=200_000, path=None, origin=None,
                 n_sample=SAMPLE_WORDS, standin=FastTextStandin(), seed=0):
    """fastText's vectors for a language as a Data record ('words', 'vectors'); lesson 5.

    'full': the first `limit` (most frequent) words of the real file, downloaded from `origin`
    into `path` (default: data/fasttext/); 'sample': the first `n_sample` of those; 'standin': a
    small file in the same format, drawn from `seed`; 'auto': the real vectors, else the stand-in.
    """
    return by_mode(data, f"fastText's {lang} vectors",
                   lambda mode: _get_real_fasttext(lang, mode, limit, path, origin, n_sample),
                   lambda: _get_fasttext_standin(lang, standin, seed),
                   (DownloadError, GloveFileError))


def _get_real_fasttext(lang, mode, limit, path, origin, n_sample):
    """The real vectors, read up to `limit` words straight from the gzip file."""
    file = _fetch_fasttext(Path(path or data_dir() / "fasttext"), lang, origin)
    cap = min(filter(None, (limit, n_sample if mode == "sample" else None)), default=None)
    return _vector_record(f"fasttext-{lang}", file, mode, False, *_read_vectors(file, limit=cap))


def _get_fasttext_standin(lang, standin, seed):
    """The stand-in vectors, drawn once for these settings, with its banner."""
    file = make_fasttext_standin(standin=standin, lang=lang, seed=seed)
    record = _vector_record(f"fasttext-{lang}", file, "standin", True, *_read_vectors(file))
    return with_banner(record, f"fastText's cc.{lang}.300.vec.gz", FASTTEXT_HOW_TO_GET.format(lang=lang))


def _vector_record(name, path, mode, standin, words, vectors, notes=()):
    """The Data record of a fastText file; `notes` say what reading it found (a word listed twice)."""
    return Data(name=name, path=Path(path), standin=standin, mode=mode,
                parts={"words": words, "vectors": vectors}, info={"dim": vectors.shape[1]},
                notes=tuple(notes),
                summary=f"{name}: {kind(mode, standin)}, {len(words):,} words of "
                        f"{vectors.shape[1]} numbers, at {path}")


def japanese_words(text):
    """Split Japanese text (no spaces between words) into words with MeCab, as fastText's
    Japanese vectors were made; needs `pip install fugashi unidic-lite`; lesson 5."""
    global _tagger
    if _tagger is None:
        try:
            import fugashi  # optional: only Japanese word vectors need it
            _tagger = fugashi.Tagger()  # finds the unidic-lite dictionary by itself
        except ImportError:
            raise ImportError("Japanese has no spaces between words, so it needs a tokeniser: "
                              "pip install fugashi unidic-lite (MeCab and a small dictionary; "
                              "SudachiPy is another choice).") from None
    return [w.surface for w in _tagger(text)]


_tagger = None  # MeCab's tagger, made on first use (loading its dictionary takes a moment)
