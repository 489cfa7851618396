"""Benchmarks: kerasrnn vs PyTorch and the naive Keras recipes (`python -m benchmarks.run`)."""
