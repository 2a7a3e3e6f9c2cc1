"""NumPy from scratch: the algorithms the lessons open up (SGD, optimizers, conv, RNN, GRU)."""
