"""Kaggle plumbing for the lessons: get a competition's data, build a checked submission, send it.

One module per job, their public names gathered here (`from utils.kaggle import fetch`):
  api         credentials, the authenticated Kaggle client (`api.connect`) and KaggleError
  fetching    `fetch`: a competition's files from the Kaggle Notebooks mount, a zip downloaded by
              hand or the API, extracted resumably
  sevenzip    reads the 7z archives `fetch` meets beside the zips (Fisheries' stage-2 test photos)
  submission  `make_submission` and `label_submission` (checked against the sample submission),
              `do_clip`, `submit`
"""
from utils.kaggle.api import NO_CREDENTIALS, KaggleError, credentials_present, credentials_problem
from utils.kaggle.fetching import fetch, mounted_input
from utils.kaggle.submission import SubmissionError, do_clip, label_submission, make_submission, read_sample, submit

__all__ = ["NO_CREDENTIALS", "KaggleError", "credentials_present", "credentials_problem", "fetch",
           "mounted_input", "SubmissionError", "do_clip", "label_submission", "make_submission",
           "read_sample", "submit"]
