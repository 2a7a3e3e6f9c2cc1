"""The lessons' ideas as the notes define them: each lessonN.py here is written by `make sync` from
the cells of nbs/lessonN.ipynb marked `#| export`, and is never edited by hand."""
