"""`export_for_serving`: a kerasrnn task model → a versioned SavedModel TF Serving loads as it is."""

import dataclasses
import json
import os

import keras

from kerasrnn.export.portable_rnn import without_cudnn
from kerasrnn.export.task_name import exported_task_name
from kerasrnn.export.versioned_write import WrittenVersion, export_folder_error, write_version
from kerasrnn.export.warmup import write_warmup_requests
from kerasrnn.serving.saved_model_layout import SIGNATURE_NOTES_FILE, write_models_config


@dataclasses.dataclass
class ExportedVersion(WrittenVersion):
    """Where `export_for_serving` wrote a model: a `WrittenVersion` (`path`, `version`, `task`), and

    Attributes:
        signatures: the signature names, `serving_default` first.
        models_config: the regenerated `models.config` beside the model folder.

    Example:

    >>> ExportedVersion("export/lm/1", 1, "char_lm", ["serving_default", "generate"], "export/models.config").task
    'char_lm'
    """

    signatures: list
    models_config: str


def export_for_serving(model, base_path, version=None, overwrite=False):
    """Export a kerasrnn task model as `base_path/<version>/`, the layout TF Serving polls.

    The SavedModel's signatures take strings and return readable answers
    (vocabulary lookup and label names inside the graph; each task's
    `signatures.py` defines them). Recurrent layers are traced without
    cuDNN, so an export made on a GPU runs on a CPU server. The version
    folder also gets `assets.extra/tf_serving_warmup_requests`, and
    `models.config` beside `base_path` is regenerated for every model there.

    Args:
        model: a task model (`SentimentClassifier`, `PosTagger`,
            `CharLanguageModel`), e.g. from `kerasrnn.zoo.load`.
        base_path: the model's folder, e.g. `export/imdb`; its name is the
            model's serving name.
        version: a positive integer; None writes the next one (1 for a new model).
        overwrite: replace an existing version instead of refusing.

    Returns:
        An `ExportedVersion`.

    Raises:
        ExportFolderError: `base_path` cannot be written (a file in the way,
            a read-only filesystem, no permission); nothing is written.
        DiskFullError: the disk filled up; nothing is left behind and the
            versions from before are intact.

    Example:

    >>> from kerasrnn import zoo
    >>> model = zoo.load("sentiment-imdb-bigru")  # doctest: +SKIP
    >>> export_for_serving(model, "export/imdb").path  # doctest: +SKIP
    'export/imdb/1'
    """
    if not isinstance(base_path, (str, os.PathLike)) or not str(base_path).strip():
        raise ValueError(f"`base_path` must be a folder path such as 'export/NAME'. Received: base_path={base_path!r}")
    base_path = os.path.normpath(os.fspath(base_path))
    task = exported_task_name(model)
    model_name = os.path.basename(os.path.abspath(base_path))
    endpoints = model.serving_endpoints()

    def write(folder):
        with without_cudnn(model):
            archive = keras.export.ExportArchive()
            archive.track(model)
            # The preprocessor runs in the signatures, outside the functional
            # graph: its lookup tables must travel with the SavedModel too.
            archive.track(model.preprocessor)
            for endpoint in endpoints:
                archive.add_endpoint(endpoint.name, endpoint.fn, endpoint.input_signature)
            archive.write_out(folder, verbose=False)
        write_warmup_requests(folder, model_name, endpoints)
        notes = {"task": task, "signatures": {endpoint.name: endpoint.note for endpoint in endpoints}}
        with open(os.path.join(folder, SIGNATURE_NOTES_FILE), "w", encoding="utf-8") as file:
            json.dump(notes, file, indent=2)

    written = write_version(base_path, write, version=version, overwrite=overwrite)
    export_root = os.path.dirname(os.path.abspath(base_path))
    try:
        config = write_models_config(export_root)
    except Exception as error:
        one_line = export_folder_error(export_root, error)
        if one_line is None:
            raise
        raise one_line from error
    return ExportedVersion(
        path=os.path.join(base_path, str(written)),
        version=written,
        task=task,
        signatures=[endpoint.name for endpoint in endpoints],
        models_config=config,
    )
