"""`hf://OWNER/REPO[@REVISION]` sources, through `huggingface_hub` (the library Keras uses for `hf://`).

`huggingface_hub` is an optional extra (`pip install "kerasrnn[hf]"`). It
honours `HF_ENDPOINT`, so a mirror of the Hub (or a test server) can stand in
for huggingface.co.
"""

import os
import re

_URI = re.compile(r"^hf://(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w./-]+))?/?$")


def parse_hub_uri(uri):
    """`hf://owner/repo[@revision]` → `(repo_id, revision)`; anything else is a clear error.

    Example:

    >>> parse_hub_uri("hf://kerasrnn/zoo@main")
    ('kerasrnn/zoo', 'main')
    >>> parse_hub_uri("hf://kerasrnn")
    Traceback (most recent call last):
    ...
    ValueError: 'hf://kerasrnn' is not a Hugging Face model repository: expected hf://OWNER/REPO[@REVISION].
    """
    match = _URI.match(str(uri))
    if not match:
        raise ValueError(f"{uri!r} is not a Hugging Face model repository: expected hf://OWNER/REPO[@REVISION].")
    return match["repo"], match["revision"]


def download_from_hub(uri, filename, folder):
    """Download one file of a Hub model repository into `folder`; returns its path.

    Example:

    >>> download_from_hub("hf://kerasrnn/zoo", "index.json", "/tmp/zoo")  # doctest: +SKIP
    '/tmp/zoo/index.json'
    """
    repo_id, revision = parse_hub_uri(uri)
    try:
        import huggingface_hub
    except ImportError as error:
        raise ValueError(f"{uri}: hf:// sources need huggingface_hub: pip install 'kerasrnn[hf]'.") from error
    # huggingface_hub reads HF_ENDPOINT once, when it is first imported, and
    # importing Keras already imports it: pass the variable's current value so
    # a mirror set later (a notebook, a test) is honoured too.
    endpoint = os.environ.get("HF_ENDPOINT", "").rstrip("/") or None
    path = huggingface_hub.hf_hub_download(
        repo_id=repo_id, filename=filename, revision=revision, local_dir=folder, repo_type="model", endpoint=endpoint
    )
    return os.path.abspath(path)
