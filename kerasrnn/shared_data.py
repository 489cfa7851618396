"""Where the real data sets live for tests, benchmarks and examples run from a clone.

`$KERASRNN_SHARED_DATA`, else `../shared/data` beside the repository (see
that folder's README: IMDB, UD English EWT, Tiny Shakespeare, in their
native formats).

Example:

>>> os.path.basename(SHAKESPEARE)
'input.txt'
"""

import os

SHARED_DATA = os.path.abspath(
    os.environ.get(
        "KERASRNN_SHARED_DATA",
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"),
    )
)
IMDB_TARBALL = os.path.join(SHARED_DATA, "aclImdb_v1_labeled.tar.gz")
EWT_DIR = os.path.join(SHARED_DATA, "ud-english-ewt")
EWT_TEST = os.path.join(EWT_DIR, "en_ewt-ud-test.conllu")
SHAKESPEARE = os.path.join(SHARED_DATA, "tinyshakespeare", "input.txt")
