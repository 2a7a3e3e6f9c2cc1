"""Where a score would rank on a Kaggle competition's leaderboard; lessons 1, 3, 4, 5, 7.

The course's homework bar was "reach the top 50% of the leaderboard". Closed competitions still
score a late submission but show it no rank, so `submit_and_rank` sends a submission, waits for
Kaggle to score it (polling the list of the learner's submissions, asking again while Kaggle is
busy), downloads the competition's public leaderboard (a zip holding a CSV of Rank, TeamId,
TeamName, LastSubmissionDate, Score, ..., best first; rows without a rank are benchmarks) and says
where the public score would have stood: rank = 1 + the teams better or tied (Kaggle lists a new
score after the earlier ones it ties), out of how many, the percentile and whether it is within
the bar. `rank_submission` does the same for a submission already made, without submitting
again; `rank_score` for any score (a validation score), offline against the cached board.

Whether lower or higher is better is read from the board's order (its first row is the best
team), never guessed from the metric's name. The board is cached in a hidden folder under the
competition's data folder (hidden, so `utils.kaggle.fetch` never takes it for the data), and used,
with its age said, when Kaggle cannot be reached.
"""
import math
import os
import shutil
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from utils.kaggle import api as kaggle_api  # `api` names the client passed in below
from utils.kaggle.api import KaggleError
from utils.kaggle.submission import submit
from utils.paths import data_dir

BAR = 0.5               # the course's homework bar: the top half of the leaderboard
CACHE = ".leaderboard"  # under data_dir()/<competition>/
BOARD_CSV = "publicleaderboard.csv"
TIE = 1e-9              # scores parsed from text are tied when they differ by less than this


class LeaderboardError(ValueError):
    """A leaderboard file that cannot be ranked against; the message says what to do."""


class ScoringFailed(KaggleError):
    """Kaggle could not score a submission: the file needs fixing and sending again."""


@dataclass(frozen=True)
class Scores:
    """A scored submission as Kaggle lists it."""

    ref: int
    public: float | None
    private: float | None
    team: str | None = None


@dataclass(frozen=True)
class Rank:
    """Where a score stands on a leaderboard."""

    score: float
    rank: int               # 1 + the teams better or tied: Kaggle lists a new score after its ties
    tied: int               # teams on the board with exactly this score
    teams: int              # teams on the board, the learner included
    percentile: float       # 100 * rank / teams: "top 12.5%"
    meets_bar: bool         # percentile within the top BAR of the board
    higher_is_better: bool
    bar_score: float        # the score to beat: only a better one ranks inside the bar


# ---------------------------------------------------------------------------------------------
# Submitting and waiting for the score


def submit_and_rank(csv, competition, message, timeout=900, interval=10, plot=True, higher=None,
                    sleep=time.sleep, clock=time.monotonic):
    """Submit a CSV, wait for its score, and print where it ranks on the public board; lessons 1, 3-5, 7."""
    client = kaggle_api.connect()
    closed = check_accepts_submissions(client, competition)
    try:
        result = submit(csv, competition, message)
    except KaggleError as err:
        raise (_late_refusal(competition, closed, err) or err) from None
    ref = _new_ref(result, competition)
    return _wait_and_rank(client, competition, ref, closed, timeout, interval, plot, higher, sleep,
                          clock)


def rank_submission(competition, ref, timeout=900, interval=10, plot=True, higher=None,
                    sleep=time.sleep, clock=time.monotonic):
    """Wait for an earlier submission's score and print where it ranks, without submitting again;
    lessons 1, 3-5, 7."""
    client = kaggle_api.connect()
    info = _competition(client, competition)
    return _wait_and_rank(client, competition, ref, _deadline_passed(getattr(info, "deadline", None)),
                          timeout, interval, plot, higher, sleep, clock)


def _new_ref(result, competition):
    """The reference of the submission just made; KaggleError when Kaggle's answer has none."""
    try:
        (ref,) = kaggle_api.fields(result, ["ref"], "the submission")
    except KaggleError as err:
        raise _made(competition, None, err) from None
    if not ref:  # never guess: the newest listed may be an older submission
        raise _made(competition, None, "Kaggle's answer gave no reference for it, so the kit"
                                       " cannot tell it from your earlier submissions.")
    return ref


def _wait_and_rank(client, competition, ref, closed, timeout, interval, plot, higher, sleep, clock):
    """Wait for submission `ref`'s score, then print and return where it ranks."""
    try:
        scores = wait_for_score(competition, ref, timeout, interval, api=client, sleep=sleep,
                                clock=clock)
        board, age = leaderboard(competition, api=client)
        board = _without_team(board, scores.team)
        where = rank(scores.public, board["Score"], higher)
    except ScoringFailed:
        raise
    except (KaggleError, LeaderboardError) as err:
        raise _made(competition, ref, err) from None
    print(report(competition, where, scores, age, closed))
    if plot:
        plot_board(board["Score"], where, competition)
    return where


def _made(competition, ref, problem):
    """KaggleError for a problem met after a submission was made: it says so, and how to rank it
    later instead of submitting again (which would spend another of the day's submissions)."""
    page = f"https://www.kaggle.com/competitions/{competition}/submissions"
    call = "from utils.leaderboard import rank_submission; rank_submission"
    if ref is None:
        return KaggleError(f"A submission to '{competition}' was made and counts toward today's"
                           f" submissions, but {problem} Do not submit it again: find its number at"
                           f" {page}, then rank it with {call}('{competition}', <its number>).")
    return KaggleError(f"{problem}\nSubmission {ref} to '{competition}' was made and counts toward"
                       " today's submissions: do not submit it again. Rank it later, without"
                       f" submitting again, with {call}('{competition}', {ref}), or see its score"
                       f" at {page}.", getattr(problem, "status", None))


def check_accepts_submissions(api, competition):
    """The deadline of a competition that has closed (None while open); KaggleError if it takes none."""
    info = _competition(api, competition)
    if info is None:  # not listed (a private or renamed competition): the submit call will tell
        return None
    deadline = getattr(info, "deadline", None)
    if getattr(info, "submissions_disabled", False):
        raise KaggleError(f"'{competition}' does not accept submissions any more"
                          f"{_closed_on(deadline)}, so Kaggle cannot score yours. Score your"
                          " predictions on your validation split instead, and see where that"
                          " score would rank with utils.leaderboard.rank_score().")
    return _deadline_passed(deadline)


def _deadline_passed(deadline):
    """The deadline when it has passed, else None."""
    if deadline is not None and _aware(deadline) < datetime.now(timezone.utc):
        return deadline
    return None


def _competition(api, competition):
    """The API's listing of one competition, or None when the listing fails or lacks it."""
    try:
        listing = api.competitions_list(search=competition)
    except Exception:  # only a courtesy check: the submission itself reports any real problem
        return None
    for info in getattr(listing, "competitions", None) or []:
        if str(getattr(info, "ref", "")).rstrip("/").split("/")[-1] == competition:
            return info
    return None


def _aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _closed_on(deadline):
    return f" (it closed on {_aware(deadline):%Y-%m-%d})" if deadline else ""


def _late_refusal(competition, closed, err):
    """A clearer error for a refused late submission, or None when the competition is open."""
    status = err.status
    if closed is None or status in (None, 401):
        return None
    rules = (" Kaggle also answers so when the rules were not accepted: accept them at"
             f" https://www.kaggle.com/competitions/{competition}/rules." if status == 403 else "")
    return KaggleError(f"Kaggle refused the submission to '{competition}' (HTTP {status})"
                       f"{_closed_on(closed)}: it seems not to accept late submissions.{rules}"
                       " Score your predictions on your validation split instead, and see where"
                       " that score would rank with utils.leaderboard.rank_score().")


def wait_for_score(competition, ref=None, timeout=900, interval=10, api=None,
                   sleep=time.sleep, clock=time.monotonic):
    """Poll the learner's submissions until `ref` (default: the newest) is scored; its Scores."""
    api = api or kaggle_api.connect()
    start = clock()
    while True:
        sub = _find(_submissions(api, competition, ref, start + timeout, sleep, clock), ref)
        status = _status(sub)
        waited = clock() - start
        print(f"\rWaiting for Kaggle to score submission {getattr(sub, 'ref', ref)}: {status},"
              f" {waited:.0f} s of at most {timeout:.0f} s", end="", flush=True)
        if status == "complete":
            print()
            ref, public, private = kaggle_api.fields(sub, ["ref", "public_score", "private_score"],
                                                     "the list of submissions")
            return Scores(ref, _number(public), _number(private), getattr(sub, "team_name", None))
        if status == "error":
            print()
            (reason,) = kaggle_api.fields(sub, ["error_description"], "the list of submissions")
            raise ScoringFailed(f"Kaggle could not score submission {sub.ref} to '{competition}':"
                                f" {reason or 'no reason given'}. Check the file against the sample"
                                " submission, then submit again.")
        if waited + interval > timeout:
            print()
            raise KaggleError(f"Submission {getattr(sub, 'ref', ref)} to '{competition}' is still"
                              f" {status} after {waited:.0f} s; Kaggle scores it in its own time.")
        sleep(interval)


def _submissions(api, competition, ref, deadline, sleep, clock):
    """The learner's submissions; asked again, with growing waits (or the one Kaggle asks for),
    while Kaggle is busy or the connection drops, until `deadline`."""
    wait, start = 2.0, clock()
    while True:
        try:
            return api.competition_submissions(competition=competition)
        except Exception as exc:
            if not kaggle_api.passing(exc):
                raise _listing_error(competition, ref, exc) from None
            pause = kaggle_api.retry_after(exc) or wait
            if clock() + pause > deadline:
                which = f"submission {ref}" if ref else "your newest submission"
                raise KaggleError(f"Kaggle could not be asked for the score of {which} to"
                                  f" '{competition}' for {clock() - start:.0f} s, the last answer"
                                  f" being {_what(exc)}.", kaggle_api.http_status(exc)) from None
            sleep(pause)
            wait = min(2 * wait, 60.0)


def _what(exc):
    status = kaggle_api.http_status(exc)
    return f"HTTP {status} ({exc})" if status else f"{type(exc).__name__}: {exc}"


def _listing_error(competition, ref, exc):
    """The error for a listing Kaggle refused; a 403 here is not about the rules, which the
    accepted submission already passed."""
    status = kaggle_api.http_status(exc)
    if status in (401, None):
        return kaggle_api.translate(exc, competition) or KaggleError(
            f"Asking Kaggle for your submissions to '{competition}' failed: {_what(exc)}.")
    return KaggleError(f"Kaggle refused to list your submissions to '{competition}', so the score"
                       f" of submission {ref} cannot be read: {_what(exc)}.", status)


def _find(submissions, ref):
    """The submission with `ref`, or the newest one (the API lists newest first)."""
    submissions = [s for s in submissions or [] if s is not None]
    if not submissions:
        return None
    if not ref:
        return submissions[0]
    return next((s for s in submissions
                 if kaggle_api.fields(s, ["ref"], "the list of submissions")[0] == ref), None)


def _status(sub):
    """'pending', 'complete' or 'error' from the API's status (an enum, or text in older versions)."""
    if sub is None:
        return "not listed yet"
    (status,) = kaggle_api.fields(sub, ["status"], "the list of submissions")
    text = str(getattr(status, "name", status)).lower()
    return next((word for word in ("complete", "error") if word in text), "pending")


def _number(text):
    """A score the API gives as text ('0.98714', '' or None when absent) as a float or None."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# The leaderboard: download, cache, read


def board_path(competition):
    """Where the competition's public leaderboard is cached."""
    return data_dir() / competition / CACHE / BOARD_CSV


def leaderboard(competition, api=None, refresh=True):
    """The public leaderboard (best first) and its age in seconds; the cached copy when offline."""
    cached = board_path(competition)
    if refresh:
        try:
            _download(api or kaggle_api.connect(), competition, cached)
        except KaggleError as err:
            if not cached.is_file():
                raise KaggleError(f"{err}\nNo copy of the '{competition}' leaderboard is cached in"
                                  f" {cached.parent} yet, so there is nothing to rank against.") from None
            print(f"Could not download the leaderboard, so using the cached copy:\n{err}")
    elif not cached.is_file():
        raise KaggleError(f"No copy of the '{competition}' leaderboard is cached at {cached};"
                          " run once with a connection (and Kaggle credentials) to download it.")
    return read_board(cached), time.time() - cached.stat().st_mtime


def _download(api, competition, dest):
    """Download the leaderboard zip into a scratch folder and move its CSV to `dest`."""
    scratch = dest.parent / ".download"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        # No path for the error: its advice (put a hand-downloaded zip there) is for the data.
        kaggle_api.call(api.competition_leaderboard_download, competition,
                        competition=competition, path=str(scratch), quiet=True)
        csv = _board_csv(scratch, competition)
        read_board(csv)  # checked before it replaces a good cached copy
        os.replace(csv, dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _board_csv(folder, competition):
    """The leaderboard CSV out of what the download left (a zip holding it, or the CSV itself)."""
    for z in folder.glob("*.zip"):
        try:
            with zipfile.ZipFile(z) as zf:
                zf.extractall(folder)
        except zipfile.BadZipFile:
            raise KaggleError(f"Kaggle's leaderboard download for '{competition}' is not a complete"
                              " zip; try again later.") from None
    found = sorted(folder.rglob("*.csv"))
    if len(found) != 1:
        raise KaggleError(f"Kaggle's leaderboard download for '{competition}' held"
                          f" {len(found)} CSV files, expected one; try again later.")
    return found[0]


def read_board(csv):
    """A leaderboard CSV (Rank, TeamId, TeamName, ..., Score, ...; best first) as a table of teams."""
    try:
        board = pd.read_csv(csv, encoding="utf-8-sig")  # today's file starts with a byte-order mark
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise LeaderboardError(f"{csv} is not a leaderboard CSV ({err}); delete it and"
                               " download the leaderboard again.") from None
    if "Score" not in board.columns:
        raise LeaderboardError(f"{csv} has no Score column (it has {list(board.columns)}); it is"
                               " not a Kaggle leaderboard. Delete it and download it again.")
    if "Rank" in board.columns:  # rows without a rank are Kaggle's benchmarks, not teams
        board = board[pd.to_numeric(board["Rank"], errors="coerce").notna()]
    board["Score"] = pd.to_numeric(board["Score"], errors="coerce")
    board = board.dropna(subset=["Score"]).reset_index(drop=True)
    if board.empty:
        raise LeaderboardError(f"{csv} lists no scored team; there is nothing to rank against.")
    return board


def _without_team(board, team):
    """The board without the learner's own row: a live board may already list their team."""
    if team and "TeamName" in board.columns:
        return board[board["TeamName"].astype(str) != str(team)].reset_index(drop=True)
    return board


# ---------------------------------------------------------------------------------------------
# Ranking


def higher_is_better(scores):
    """True when a board (best first) rises from its last row to its first, False when it falls."""
    scores = np.asarray(scores, dtype=float)
    steps = np.diff(scores)
    if (steps <= TIE).all() and scores[0] > scores[-1]:
        return True
    if (steps >= -TIE).all() and scores[0] < scores[-1]:
        return False
    if np.ptp(scores) <= TIE:
        return None  # every team has the same score: the order tells nothing
    raise LeaderboardError("The leaderboard is not in rank order (its first row must be the best"
                           " team); download it again.")


def rank(score, board_scores, higher=None):
    """Where `score` would stand among `board_scores` (best first); direction from their order
    unless `higher` says whether higher scores are better."""
    if score is None or not math.isfinite(score):
        raise LeaderboardError(f"There is no public score to rank (got {score!r}).")
    board = np.asarray(board_scores, dtype=float)
    higher = higher_is_better(board) if higher is None else higher
    same = np.abs(board - score) <= TIE
    if higher is None:
        if not same.all():
            raise LeaderboardError(
                "Every team on the board has the same score, so its order cannot tell whether"
                " higher is better; pass higher=True (higher scores are better) or higher=False"
                " to rank_score(), rank_submission() or submit_and_rank().")
        higher = True
    better = int(((board > score) if higher else (board < score))[~same].sum())
    teams = len(board) + 1  # the board's teams and the learner
    place = 1 + better + int(same.sum())  # Kaggle lists a new score after the earlier ones it ties
    keep = math.floor(BAR * teams)  # the last rank inside the bar (at least 1: teams >= 2)
    ordered = np.sort(board)[::-1] if higher else np.sort(board)
    return Rank(score=float(score), rank=place, tied=int(same.sum()), teams=teams,
                percentile=100 * place / teams, meets_bar=place <= keep, higher_is_better=higher,
                bar_score=float(ordered[keep - 1]))


def rank_score(competition, score, refresh=True, plot=True, higher=None):
    """Print where any score (e.g. a validation score) would rank on the public board; lessons 1, 3-5, 7."""
    board, age = leaderboard(competition, refresh=refresh)
    where = rank(score, board["Score"], higher)
    print(report(competition, where, None, age, None))
    if plot:
        plot_board(board["Score"], where, competition)
    return where


def report(competition, where, scores=None, age=None, closed=None):
    """The lines saying where a score stands, on which board, against the course's bar."""
    way = "higher" if where.higher_is_better else "lower"
    lines = []
    if scores is not None:
        private = "not shown yet" if scores.private is None else f"{scores.private:.5f}"
        lines.append(f"Submission {scores.ref}: public score {scores.public:.5f},"
                     f" private score {private}.")
    tie = (f", after the {where.tied} team{'s' if where.tied != 1 else ''} it ties (Kaggle lists a"
           " new score after the earlier ones)" if where.tied else "")
    lines.append(f"A score of {where.score:.5f} would rank {where.rank:,} of {where.teams:,}"
                 f" ({where.teams - 1:,} teams on the board, and you){tie}: the top"
                 f" {where.percentile:.1f}% ({way} is better).")
    verdict = "meets" if where.meets_bar else "does not meet"
    lines.append(f"It {verdict} the course's bar, the top {BAR:.0%} (a score"
                 f" {'above' if where.higher_is_better else 'below'} {where.bar_score:.5f}).")
    board = f"This is {competition}'s PUBLIC leaderboard"
    if closed is not None:
        board += (f"; the competition closed on {_aware(closed):%Y-%m-%d} and its final standing"
                  " was the private leaderboard, so this rank is against the public one, and Kaggle"
                  " does not rank late submissions itself")
    if age is not None:
        board += f"; downloaded {_age(age)} ago"
    lines.append(board + ".")
    return "\n".join(lines)


def _age(seconds):
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


def plot_board(board_scores, where, competition="", ax=None):
    """A histogram of the board's scores with the learner's score and the bar marked."""
    import matplotlib.pyplot as plt  # matplotlib only for the picture
    scores = np.asarray(board_scores, dtype=float)
    # A few wild scores (log loss of 30 from one upside-down submission) would squash the rest.
    lo, hi = np.quantile(scores, [0.01, 0.99])
    lo, hi = min(lo, where.score, where.bar_score), max(hi, where.score, where.bar_score)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    ax.hist(np.clip(scores, lo, hi), bins=50, range=(lo, hi) if hi > lo else None, color="0.6")
    ax.axvline(where.bar_score, color="tab:orange", linestyle="--", label=f"top {BAR:.0%} bar")
    ax.axvline(where.score, color="tab:red", label=f"you: rank {where.rank:,} of {where.teams:,}")
    ax.set(xlabel=f"public score ({'higher' if where.higher_is_better else 'lower'} is better)",
           ylabel="teams", title=f"{competition} public leaderboard".strip())
    ax.legend()
    return ax
