"""Lesson 6's claimed effects, each measured side by side on its stand-in."""
CLAIMS = []
