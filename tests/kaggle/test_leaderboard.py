"""utils.leaderboard against a fake Kaggle API: submit, wait for the score, rank on the public board.

The fake hands out the kagglesdk's own submission objects and a leaderboard zip holding a CSV in
Kaggle's older format (TeamId, TeamName, SubmissionDate, Score, best first), for the three kinds
of metric the lessons meet: log loss (lower is better), accuracy and F1 (higher is better); today's
format is read too. Waiting for a score also runs through the installed kaggle client against a
loopback Kaggle that answers 429, 5xx and cut-off answers. Polling waits on an injected clock and
sleep, so nothing here takes more than milliseconds.
"""
import io
import os
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pytest

matplotlib.use("Agg")

from kagglesdk.competitions.types.competition_api_service import ApiCreateSubmissionResponse, ApiSubmission  # noqa: E402
from kagglesdk.competitions.types.submission_status import SubmissionStatus  # noqa: E402

import utils.kaggle as kg  # noqa: E402
import utils.leaderboard as lb  # noqa: E402

from kaggle_fakes import COMPETITIONS_API, kaggle_json  # noqa: E402
from loopback import Reply  # noqa: E402

HEADER = "TeamId,TeamName,SubmissionDate,Score\n"


def board_csv(scores):
    """A leaderboard CSV as Kaggle's download holds it, rows best first."""
    rows = [f"{1000 + i},team {i},2017-02-{1 + i % 28:02d} 12:00:00,{s:.5f}\n"
            for i, s in enumerate(scores)]
    return HEADER + "".join(rows)


# Three real kinds of board, best first.
BOARDS = {
    # log loss: lower is better; the tail of wild scores is real (one inverted submission)
    "dogs-vs-cats-redux-kernels-edition": [0.03302, 0.0351, 0.04, 0.05, 0.06, 0.07, 0.09, 0.2,
                                           0.69315, 17.5],
    # accuracy: many teams at 1.00000
    "digit-recognizer": [1.0, 1.0, 1.0, 0.99971, 0.995, 0.99, 0.98, 0.97, 0.9, 0.1],
    # F1
    "nlp-getting-started": [1.0, 0.86, 0.85, 0.84, 0.83, 0.83, 0.82, 0.8, 0.79, 0.5],
}
OPEN = datetime(2099, 1, 1, tzinfo=timezone.utc)
CLOSED = datetime(2017, 3, 2, tzinfo=timezone.utc)


def submission(ref, status, public="", private="", team="me", error=None):
    sub = ApiSubmission()
    sub.ref, sub.status, sub.team_name = ref, status, team
    sub.public_score, sub.private_score = public, private
    if error:
        sub.error_description = error
    return sub


class FakeApi:
    """An authenticated KaggleApi: submissions scored after `pending` polls, one leaderboard."""

    def __init__(self, competition, board, public, private="", pending=2, final=SubmissionStatus.COMPLETE,
                 deadline=OPEN, disabled=False, submit_error=None, error=None):
        self.competition, self.board, self.public, self.private = competition, board, public, private
        self.pending, self.final, self.deadline, self.disabled = pending, final, deadline, disabled
        self.submit_error, self.error, self.calls = submit_error, error, []

    def competitions_list(self, search=None, **kwargs):
        info = SimpleNamespace(ref=f"https://www.kaggle.com/competitions/{self.competition}",
                               deadline=self.deadline, submissions_disabled=self.disabled)
        return SimpleNamespace(competitions=[info])

    def competition_submit(self, file_name, message, competition, quiet=False):
        self.calls.append("submit")
        if self.submit_error:
            raise self.submit_error
        result = ApiCreateSubmissionResponse()
        result.ref, result.message = 42, "Successfully submitted"
        return result

    def competition_submissions(self, competition, **kwargs):
        self.calls.append("list")
        older = submission(7, SubmissionStatus.COMPLETE, "0.5", "0.5")
        if self.calls.count("list") <= self.pending:
            return [submission(42, SubmissionStatus.PENDING), older]
        done = submission(42, self.final, self.public, self.private, error="Submission.csv: "
                          "row 3 has 2 columns, expected 3" if self.final == SubmissionStatus.ERROR else None)
        return [done, older]

    def competition_leaderboard_download(self, competition, path, quiet=True):
        self.calls.append("leaderboard")
        if self.error:
            raise self.error
        with zipfile.ZipFile(Path(path) / f"{competition}.zip", "w") as zf:
            zf.writestr(f"{competition}-publicleaderboard.csv", self.board)


class Clock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class HttpError(Exception):
    def __init__(self, status):
        super().__init__(f"{status} Client Error")
        self.response = SimpleNamespace(status_code=status)


@pytest.fixture(autouse=True)
def isolated(offline_kaggle_env):
    """Scratch data folder, no credentials."""


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text("id,label\n1,0.5\n")
    return path


def use(monkeypatch, api):
    monkeypatch.setattr(kg.api, "connect", lambda: api)
    return api


def run(csv, api, timeout=60, interval=10):
    clock = Clock()
    where = lb.submit_and_rank(csv, api.competition, "test", timeout=timeout, interval=interval,
                               plot=False, sleep=clock.sleep, clock=clock)
    return where, clock


# ---------------------------------------------------------------------------------------------
# From submit to a printed rank


@pytest.mark.parametrize("competition, public, expected", [
    # log loss 0.045: 3 teams lower, so rank 4 of 11; direction read as lower-better
    ("dogs-vs-cats-redux-kernels-edition", "0.04500",
     dict(rank=4, tied=0, teams=11, higher_is_better=False, meets_bar=True)),
    # accuracy 1.0: no team better, three tied and listed first -> rank 4 of 11
    ("digit-recognizer", "1.00000", dict(rank=4, tied=3, teams=11, higher_is_better=True, meets_bar=True)),
    # F1 0.83: four teams better, two tied at 0.83 -> rank 7 of 11, outside the top half
    ("nlp-getting-started", "0.83000", dict(rank=7, tied=2, teams=11, higher_is_better=True, meets_bar=False)),
])
def test_submit_waits_two_polls_then_prints_the_rank(monkeypatch, capsys, csv, competition, public,
                                                     expected):
    api = use(monkeypatch, FakeApi(competition, board_csv(BOARDS[competition]), public, "0.51000"))
    where, clock = run(csv, api)
    assert {k: getattr(where, k) for k in expected} == expected
    assert where.percentile == pytest.approx(100 * expected["rank"] / 11)
    assert api.calls == ["submit", "list", "list", "list", "leaderboard"]
    assert clock.sleeps == [10, 10]  # scored on the third poll, after two waits
    out = capsys.readouterr().out
    assert "pending, 0 s" in out and "pending, 10 s" in out and "complete, 20 s" in out
    assert f"public score {float(public):.5f}, private score 0.51000" in out
    assert f"would rank {expected['rank']} of 11 (10 teams on the board, and you)" in out
    assert ("it ties" in out) == bool(expected["tied"])
    verdict = "meets" if expected["meets_bar"] else "does not meet"
    assert f"It {verdict} the course's bar, the top 50%" in out
    assert "PUBLIC leaderboard" in out and "downloaded" in out
    assert lb.board_path(competition).is_file()


def test_a_closed_competition_says_the_rank_is_against_the_public_board(monkeypatch, capsys, csv):
    comp = "dogs-vs-cats-redux-kernels-edition"
    api = use(monkeypatch, FakeApi(comp, board_csv(BOARDS[comp]), "0.69315", deadline=CLOSED, pending=0))
    where, _ = run(csv, api)
    out = capsys.readouterr().out
    assert where.rank == 10 and where.tied == 1 and not where.meets_bar
    assert "after the 1 team it ties" in out and "does not meet the course's bar" in out
    assert "closed on 2017-03-02" in out and "final standing was the private leaderboard" in out
    assert "private score not shown yet" in out


def test_the_learners_own_row_on_a_live_board_is_not_counted_twice(monkeypatch, csv):
    scores = BOARDS["digit-recognizer"]
    board = board_csv(scores).replace("team 4,", "me,")  # their best so far, 0.995, is on the board
    api = use(monkeypatch, FakeApi("digit-recognizer", board, "0.99100"))
    where, _ = run(csv, api)
    assert (where.rank, where.teams) == (5, 10)


# ---------------------------------------------------------------------------------------------
# Submissions that do not end in a score


def test_an_error_status_gives_kaggles_reason(monkeypatch, csv):
    api = use(monkeypatch, FakeApi("digit-recognizer", board_csv(BOARDS["digit-recognizer"]), "",
                                   pending=1, final=SubmissionStatus.ERROR))
    with pytest.raises(kg.KaggleError, match=r"could not score submission 42.*row 3 has 2 columns"):
        run(csv, api)
    assert "leaderboard" not in api.calls


def test_a_timeout_says_how_to_pick_up_the_wait_later(monkeypatch, capsys, csv):
    api = use(monkeypatch, FakeApi("digit-recognizer", board_csv(BOARDS["digit-recognizer"]), "1.0",
                                   pending=99))
    with pytest.raises(kg.KaggleError, match=r"(?s)still pending after 30 s.*was made.*"
                                             r"rank_submission\('digit-recognizer', 42\)"):
        run(csv, api, timeout=35, interval=10)
    assert api.calls.count("list") == 4  # at 0, 10, 20, 30 s; a fifth would pass the timeout


def test_unaccepted_rules_403_says_to_accept_them(monkeypatch, csv):
    api = use(monkeypatch, FakeApi("nlp-getting-started", board_csv(BOARDS["nlp-getting-started"]),
                                   "0.8", submit_error=HttpError(403)))
    with pytest.raises(kg.KaggleError, match=r"HTTP 403.*accepted.*nlp-getting-started/rules") as info:
        run(csv, api)
    assert "late" not in str(info.value)


def test_a_closed_competition_refusing_late_submissions_says_so(monkeypatch, csv):
    comp = "dogs-vs-cats-redux-kernels-edition"
    api = use(monkeypatch, FakeApi(comp, board_csv(BOARDS[comp]), "0.1", deadline=CLOSED,
                                   submit_error=HttpError(400)))
    with pytest.raises(kg.KaggleError, match=r"HTTP 400.*closed on 2017-03-02.*not to accept late"
                                             r" submissions.*rank_score"):
        run(csv, api)


def test_submissions_disabled_are_refused_before_uploading(monkeypatch, csv):
    comp = "dogs-vs-cats-redux-kernels-edition"
    api = use(monkeypatch, FakeApi(comp, board_csv(BOARDS[comp]), "0.1", deadline=CLOSED,
                                   disabled=True))
    with pytest.raises(kg.KaggleError, match=r"does not accept submissions any more.*rank_score"):
        run(csv, api)
    assert "submit" not in api.calls


# ---------------------------------------------------------------------------------------------
# The cached board


def test_offline_ranks_against_the_cached_board_and_says_its_age(monkeypatch, capsys):
    comp = "nlp-getting-started"
    use(monkeypatch, FakeApi(comp, board_csv(BOARDS[comp]), ""))
    lb.leaderboard(comp)
    three_days_ago = time.time() - 3 * 86400
    os.utime(lb.board_path(comp), (three_days_ago, three_days_ago))
    use(monkeypatch, FakeApi(comp, "", "", error=ConnectionError("no route")))
    where = lb.rank_score(comp, 0.845, plot=False)
    out = capsys.readouterr().out
    assert (where.rank, where.teams) == (4, 11)
    assert "Cannot reach kaggle.com" in out and "cached copy" in out
    assert "downloaded 3.0 days ago" in out


def test_offline_without_a_cached_board_says_there_is_nothing_to_rank_against(monkeypatch):
    comp = "digit-recognizer"
    use(monkeypatch, FakeApi(comp, "", "", error=ConnectionError("no route")))
    with pytest.raises(kg.KaggleError, match="(?s)Cannot reach kaggle.com.*No copy of the 'digit-recognizer'"
                                             " leaderboard is cached"):
        lb.rank_score(comp, 0.99)


def test_a_broken_download_keeps_the_good_cached_board(monkeypatch):
    comp = "digit-recognizer"
    use(monkeypatch, FakeApi(comp, board_csv(BOARDS[comp]), ""))
    lb.leaderboard(comp)
    good = lb.board_path(comp).read_text()
    use(monkeypatch, FakeApi(comp, "TeamId,TeamName\n1,x\n", ""))
    with pytest.raises(lb.LeaderboardError, match="no Score column"):
        lb.leaderboard(comp)
    assert lb.board_path(comp).read_text() == good


def test_the_cache_never_looks_like_the_competitions_data(monkeypatch):
    comp = "digit-recognizer"
    use(monkeypatch, FakeApi(comp, board_csv(BOARDS[comp]), ""))
    lb.leaderboard(comp)
    folder = lb.board_path(comp).parent.parent
    # fetch would take a folder of plain files for data extracted by hand, and download nothing
    assert not kg.fetching._extracted_by_hand(folder) and kg.fetching._zips(folder) == []


# ---------------------------------------------------------------------------------------------
# Ranking rules


def test_the_direction_comes_from_the_boards_order_not_the_metric():
    scores = [0.9, 0.8, 0.8, 0.7]
    assert lb.rank(0.8, scores) == lb.Rank(0.8, 4, 2, 5, 80.0, False, True, 0.8)
    # the same numbers listed the other way round are a lower-is-better board
    low = lb.rank(0.8, scores[::-1])
    assert (low.rank, low.tied, low.higher_is_better) == (4, 2, False)
    with pytest.raises(lb.LeaderboardError, match="not in rank order"):
        lb.rank(0.8, [0.8, 0.9, 0.7])


def test_a_board_of_equal_scores_asks_for_the_direction():
    assert lb.rank(1.0, [1.0, 1.0]).tied == 2
    with pytest.raises(lb.LeaderboardError, match="pass higher=True .* or higher=False"):
        lb.rank(0.9, [1.0, 1.0])
    assert lb.rank(0.9, [1.0, 1.0], higher=True).rank == 3


def test_the_plot_marks_the_score_and_the_bar():
    comp = "dogs-vs-cats-redux-kernels-edition"
    where = lb.rank(0.045, BOARDS[comp])
    ax = lb.plot_board(BOARDS[comp], where, comp)
    lines = [line.get_xdata()[0] for line in ax.get_lines()]
    assert lines == [where.bar_score, 0.045]
    assert "lower is better" in ax.get_xlabel()
    assert ax.get_xlim()[1] < 17.5  # the wild tail is clipped into view


# ---------------------------------------------------------------------------------------------
# Answers of another client version


def test_answers_of_an_unknown_shape_say_to_upgrade_kaggle_not_attribute_error(monkeypatch, csv):
    """kaggle before 1.7 answered camelCase objects (publicScore, errorDescription)."""
    class OldApi(FakeApi):
        def competition_submissions(self, competition, **kwargs):
            self.calls.append("list")
            return [SimpleNamespace(ref=42, status="complete", publicScore="0.99", privateScore="",
                                    teamName="me")]
    comp = "digit-recognizer"
    api = use(monkeypatch, OldApi(comp, board_csv(BOARDS[comp]), "0.99"))
    with pytest.raises(kg.KaggleError) as caught:
        run(csv, api)
    message = str(caught.value)
    assert "public_score" in message and "kaggle>=1.8.4" in message
    assert "Submission 42 to 'digit-recognizer' was made" in message
    assert "rank_submission('digit-recognizer', 42)" in message
    assert api.calls.count("submit") == 1


# ---------------------------------------------------------------------------------------------
# The installed kaggle client against a loopback Kaggle: submit, poll, rank


def submission_json(ref, status, public="", private=""):
    return {"ref": ref, "status": status, "publicScore": public, "privateScore": private,
            "teamName": "me"}


def loopback_kaggle(server, comp, polls, ref=42):
    """Routes for one submission of `comp`: upload, create (answering `ref`), list (`polls` in
    turn), and the leaderboard download."""
    board = io.BytesIO()
    with zipfile.ZipFile(board, "w") as zf:
        zf.writestr(f"{comp}-publicleaderboard.csv", board_csv(BOARDS[comp]))
    server.files[f"/files/{comp}-lb.zip"] = board.getvalue()
    created = {"message": "Successfully submitted"} | ({"ref": ref} if ref else {})
    server.routes.update({
        COMPETITIONS_API + "StartSubmissionUpload": [Reply(body={"token": "blob",
                                                               "createUrl": server.url("/upload")})],
        "/upload": [Reply(200)],
        COMPETITIONS_API + "CreateSubmission": [Reply(body=created)],
        COMPETITIONS_API + "ListSubmissions": polls,
        COMPETITIONS_API + "DownloadLeaderboard": [
            Reply(302, headers={"Location": server.url(f"/files/{comp}-lb.zip")})],
    })


def posts_to(server, name):
    return sum(path.endswith("/" + name) for path, _, _ in server.posts)


def test_passing_failures_while_polling_are_retried_and_retry_after_is_honoured(
        tmp_path, monkeypatch, capsys, csv, kaggle_server):
    kaggle_json(tmp_path / "home")
    comp = "digit-recognizer"
    scored = {"submissions": [submission_json(42, "COMPLETE", "0.99600"),
                              submission_json(7, "COMPLETE", "0.5")]}
    loopback_kaggle(kaggle_server, comp, [
        Reply(429, {"code": 429, "message": "Too many requests"}, {"Retry-After": "7"}),
        Reply(503, {"code": 503, "message": "Service unavailable"}),
        Reply(200, scored, cut=True),  # the connection drops mid-answer
        Reply(200, b'{"submissions": [', {"Content-Type": "application/json"}),
        Reply(200, scored)])
    where, clock = run(csv, SimpleNamespace(competition=comp), timeout=120)
    assert (where.rank, where.teams) == (5, 11)
    assert posts_to(kaggle_server, "CreateSubmission") == 1
    assert posts_to(kaggle_server, "ListSubmissions") == 5
    assert clock.sleeps[0] == 7 and len(clock.sleeps) == 4
    assert "meets the course's bar" in capsys.readouterr().out


def test_giving_up_says_the_submission_was_made_and_how_to_rank_it_without_resubmitting(
        tmp_path, monkeypatch, csv, kaggle_server):
    kaggle_json(tmp_path / "home")
    comp = "digit-recognizer"
    loopback_kaggle(kaggle_server, comp, [Reply(503, {"code": 503, "message": "unavailable"})])
    with pytest.raises(kg.KaggleError) as caught:
        run(csv, SimpleNamespace(competition=comp), timeout=60)
    message = str(caught.value)
    assert "Submission 42 to 'digit-recognizer' was made" in message and "503" in message
    assert ("from utils.leaderboard import rank_submission; rank_submission('digit-recognizer', 42)"
            in message)
    assert "without submitting again" in message
    assert posts_to(kaggle_server, "CreateSubmission") == 1
    assert 2 < posts_to(kaggle_server, "ListSubmissions") < 20


def test_rank_submission_ranks_a_submission_made_earlier_without_submitting(monkeypatch, capsys):
    comp = "digit-recognizer"
    api = use(monkeypatch, FakeApi(comp, board_csv(BOARDS[comp]), "0.99600", pending=1))
    clock = Clock()
    where = lb.rank_submission(comp, 42, plot=False, sleep=clock.sleep, clock=clock)
    assert (where.rank, where.teams) == (5, 11)
    assert "submit" not in api.calls and api.calls.count("list") == 2
    assert "Submission 42: public score 0.99600" in capsys.readouterr().out


def test_a_submit_answer_without_a_reference_never_ranks_an_older_submission(
        tmp_path, monkeypatch, csv, kaggle_server):
    kaggle_json(tmp_path / "home")
    comp = "digit-recognizer"
    older = {"submissions": [submission_json(7, "COMPLETE", "0.5")]}
    loopback_kaggle(kaggle_server, comp, [Reply(200, older)], ref=None)
    with pytest.raises(kg.KaggleError, match=r"was made.*no reference") as caught:
        run(csv, SimpleNamespace(competition=comp))
    assert f"https://www.kaggle.com/competitions/{comp}/submissions" in str(caught.value)
    assert posts_to(kaggle_server, "DownloadLeaderboard") == 0


def test_a_403_on_a_later_poll_is_not_blamed_on_the_rules(tmp_path, monkeypatch, csv, kaggle_server):
    kaggle_json(tmp_path / "home")
    comp = "digit-recognizer"
    loopback_kaggle(kaggle_server, comp, [Reply(403, {"code": 403, "message": "Forbidden"})])
    with pytest.raises(kg.KaggleError, match="HTTP 403") as caught:
        run(csv, SimpleNamespace(competition=comp))
    message = str(caught.value)
    assert "rules" not in message and "phone" not in message
    assert "Submission 42 to 'digit-recognizer' was made" in message


# ---------------------------------------------------------------------------------------------
# Today's leaderboard file


TODAY_HEADER = "Rank,TeamId,TeamName,LastSubmissionDate,Score,SubmissionCount,TeamMemberUserNames\n"


def test_todays_leaderboard_file_with_a_bom_and_benchmark_rows(monkeypatch, tmp_path):
    rows = ["1,11,alpha,2024-05-01 10:00:00,0.99,3,alice",
            ",,Sample Submission Benchmark,2015-01-01 00:00:00,0.98,,",
            "2,12,beta,2024-05-02 10:00:00,0.97,1,bob",
            "3,13,gamma,2024-05-03 10:00:00,0.90,2,carol",
            ",,All Zeros Benchmark,2015-01-01 00:00:00,0.50,,"]
    path = tmp_path / "board.csv"
    path.write_bytes(("\ufeff" + TODAY_HEADER + "\n".join(rows) + "\n").encode("utf-8"))
    board = lb.read_board(path)
    assert list(board["TeamName"]) == ["alpha", "beta", "gamma"]
    assert "Rank" in board.columns
    where = lb.rank(0.95, board["Score"])
    assert (where.rank, where.teams) == (3, 4)


# ---------------------------------------------------------------------------------------------
# The bar agrees with the rank


def test_a_tie_is_ranked_after_the_teams_it_ties_and_the_bar_follows_the_rank():
    # 199 teams: 96 better, 7 tied at the median, 96 worse; the learner makes 200
    board = [0.9] * 96 + [0.8] * 7 + [0.7] * 96
    where = lb.rank(0.8, board)
    assert (where.rank, where.tied, where.teams) == (104, 7, 200)
    assert where.percentile == pytest.approx(52.0) and not where.meets_bar
    assert "does not meet" in lb.report("x", where)


def test_second_of_three_is_not_the_top_half():
    where = lb.rank(0.8, [0.9, 0.7])
    assert (where.rank, where.teams) == (2, 3)
    assert where.percentile == pytest.approx(200 / 3) and not where.meets_bar
    assert lb.rank(0.95, [0.9, 0.7]).meets_bar


def test_the_bar_score_is_the_score_to_beat():
    where = lb.rank(0.5, [0.9, 0.8, 0.7, 0.6])  # 5 teams: the top 50% is ranks 1 and 2
    assert where.bar_score == 0.8 and not where.meets_bar
    assert lb.rank(0.8, [0.9, 0.8, 0.7, 0.6]).rank == 3  # tying the bar is not enough
    assert lb.rank(0.81, [0.9, 0.8, 0.7, 0.6]).meets_bar
    assert "above 0.80000" in lb.report("x", where)


def test_the_direction_advice_names_a_parameter_the_public_functions_take(monkeypatch):
    comp = "digit-recognizer"
    use(monkeypatch, FakeApi(comp, board_csv([1.0, 1.0, 1.0]), ""))
    with pytest.raises(lb.LeaderboardError, match=r"higher=True.*rank_score\(\)") as caught:
        lb.rank_score(comp, 0.9, plot=False)
    assert "submit_and_rank" in str(caught.value)
    assert lb.rank_score(comp, 0.9, plot=False, higher=True).rank == 4
