"""ONNX and LiteRT exports of the zoo: the largest difference to Keras on real test data, and latency side by side.

For every zoo model, both formats are built as `kerasrnn export --format
onnx|litert` builds them and run in onnxruntime / ai-edge-litert on:

- sentiment: 200 IMDB test reviews (every 125th of the split, negatives and
  positives): padded = batches of 20 in input order, padded to their
  longest review; unpadded = each review alone. The probabilities are compared.
- tagger: the 2,077 EWT test sentences: padded = batches of 64 in file
  order; unpadded = batches of sentences of one length. The tag
  probabilities of the real words are compared.
- char LM: the first 2,000 characters of Tiny Shakespeare's held-out 10%:
  at once (one sequence, no padding exists for a char LM), and in 20 steps
  of 100 characters carrying the exported states. The logits are compared.

"same answers" counts the labels / tags / next characters (argmax) that
equal Keras'. Latency (`--latency`): one example end to end from text
(preprocessing included) for each task's best zoo model, Keras
`predict_text` / `generate`, the SavedModel signature (`export_for_serving`),
onnxruntime and LiteRT (`kerasrnn.portable`), interleaved, medians.

Usage:

    python -m benchmarks.portable_exports [--models NAME ...] [--latency] [--out benchmarks/portable_exports.json]
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from benchmarks.measure import interleaved, machine_description, median
from kerasrnn import zoo
from kerasrnn.export.portable import build_portable
from kerasrnn.portable import text as portable_text
from kerasrnn.portable.runtimes import open_runner
from kerasrnn.shared_data import EWT_DIR, IMDB_TARBALL, SHAKESPEARE

FORMATS = ("onnx", "litert")


def reference_function(network):
    """The Keras network's inference, traced once for any batch and length (an eager RNN loop is slow)."""
    specs = {tensor.name: tf.TensorSpec([None] * len(tensor.shape), tf.int32) for tensor in network.inputs}
    if len(specs) == 1:
        function = tf.function(lambda ids: network(ids, training=False), input_signature=list(specs.values()))
        return lambda inputs: np.asarray(function(inputs["token_ids"]))
    function = tf.function(lambda ids: network(ids, training=False), input_signature=[specs])
    return lambda inputs: np.asarray(function({name: inputs[name] for name in specs}))


def test_data():
    """The real test data of the three tasks, loaded once."""
    from kerasrnn.data.conllu import read_conllu
    from kerasrnn.data.imdb import load_imdb
    from kerasrnn.data.text import read_text, split_text

    texts, _ = load_imdb(IMDB_TARBALL, splits=("test",))["test"]
    sentences = [list(words) for words, _ in read_conllu(os.path.join(EWT_DIR, "en_ewt-ud-test.conllu"))]
    return {"reviews": list(texts[::125][:200]), "sentences": sentences,
            "characters": split_text(read_text(SHAKESPEARE))[1][:2000]}


def batches(task, model, data):
    """`(padded batches, unpadded batches)`: lists of input dicts, as the docstring above describes."""
    preprocessor = model.preprocessor
    if task == "sentiment":
        index = portable_text.index_of(preprocessor.vocabulary[2:], 2)
        reviews = data["reviews"]
        padded = [{"token_ids": portable_text.review_ids(reviews[start:start + 20], index, preprocessor.max_length)}
                  for start in range(0, len(reviews), 20)]
        unpadded = [{"token_ids": portable_text.review_ids([review], index, preprocessor.max_length)}
                    for review in reviews]
        return padded, unpadded
    if task == "pos_tagger":
        index = portable_text.index_of(preprocessor.vocabulary[2:], 2)
        characters = preprocessor.characters
        character_index = portable_text.index_of(characters, 2) if characters else None
        sentences = data["sentences"]

        def encode(chunk):
            return portable_text.sentence_ids(chunk, index, character_index)

        padded = [encode(sentences[start:start + 64]) for start in range(0, len(sentences), 64)]
        by_length = {}
        for words in sentences:
            by_length.setdefault(len(words), []).append(words)
        unpadded = [encode(group[start:start + 64]) for group in by_length.values()
                    for start in range(0, len(group), 64)]
        return padded, unpadded
    ids = portable_text.character_ids(data["characters"], portable_text.index_of(preprocessor.characters, 1))
    return [{"token_ids": ids[None, :]}], [{"token_ids": ids[None, start:start + 100]} for start in range(0, 2000, 100)]


def compare(task, model, runner, description, padded, unpadded, reference):
    """Max |exported - Keras| on the padded and unpadded batches, and how many answers agree."""
    name = description["output"]["name"]
    states = description["states"]
    differences, same, total = [], 0, 0
    for batches_ in (padded, unpadded):
        largest = 0.0
        if task == "char_lm":
            expected = reference(batches_[0] if len(batches_) == 1 else
                                 {"token_ids": np.concatenate([b["token_ids"] for b in batches_], axis=1)})
            carried = {state["input"]: np.zeros((1, state["size"]), "float32") for state in states}
            pieces = []
            for batch in batches_:  # one piece, or twenty carrying the exported states
                outputs = runner(**batch, **carried)
                pieces.append(outputs[name])
                carried = {state["input"]: outputs[state["output"]] for state in states}
            got = np.concatenate(pieces, axis=1)
            largest = float(np.abs(got - expected).max())
            same += int((got.argmax(-1) == expected.argmax(-1)).sum())
            total += expected.shape[1]
        else:
            for batch in batches_:
                expected, got = reference(batch), runner(**batch)[name]
                if task == "pos_tagger":
                    real = batch["token_ids"] != 0
                    expected, got = expected[real], got[real]
                largest = max(largest, float(np.abs(got - expected).max()))
                same += int((got.argmax(-1) == expected.argmax(-1)).sum())
                total += len(expected)
        differences.append(largest)
    return {"padded": differences[0], "unpadded": differences[1], "same_answers": same, "answers": total}


def accuracy_rows(names, data):
    rows = []
    for name in names:
        model = zoo.load(name)
        task = model.task_name
        reference = reference_function(model.network)
        padded, unpadded = batches(task, model, data)
        for format in FORMATS:
            started = time.perf_counter()
            payload, description = build_portable(model, format)
            built = time.perf_counter() - started
            result = compare(task, model, open_runner(format, payload), description, padded, unpadded, reference)
            rows.append({"model": name, "task": task, "format": format, "bytes": len(payload),
                         "convert_seconds": round(built, 1), **result})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def best_models():
    """Each task's best published model by its test score."""
    from kerasrnn.zoo.index import read_index

    best = {}
    for entry in read_index():
        metrics, task = entry["metrics"], entry["task"]
        score = -metrics["bits_per_char"] if task == "char_lm" else metrics["accuracy"]
        if task not in best or score > best[task][0]:
            best[task] = (score, entry["name"])
    return [name for _, name in best.values()]


def folder_bytes(path):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(path) for name in files)


def _timed_medians(calls, repetitions):
    order = ["Keras", "SavedModel", "onnx", "litert"]
    for key in order:  # warm-up: tracing, allocation
        calls[key]()

    def timed(key):
        started = time.perf_counter()
        calls[key]()
        return time.perf_counter() - started

    return {key: median(values) for key, values in interleaved(order, repetitions, timed).items()}


def latency_rows(names, data, repetitions, threads):
    """Text in, answer out: one example's seconds, and a batch of 64's examples/s, of Keras, the SavedModel,
    onnxruntime and LiteRT (medians, interleaved)."""
    from kerasrnn import portable
    from kerasrnn.export import export_for_serving
    from kerasrnn.export.portable import export_portable

    rows = []
    work = tempfile.mkdtemp(prefix="portable-bench-")
    for name in names:
        model = zoo.load(name)
        task = model.task_name
        saved = tf.saved_model.load(export_for_serving(model, os.path.join(work, name, "saved_model")).path)
        loaded = {"Keras": model}
        sizes = {"SavedModel": folder_bytes(os.path.join(work, name, "saved_model", "1"))}
        for format in FORMATS:
            exported = export_portable(model, os.path.join(work, name, format), format)
            loaded[format] = portable.load(exported.path, threads=threads)
            sizes[format] = os.path.getsize(exported.file)
        batch_calls = None
        if task == "sentiment":
            review = sorted(data["reviews"], key=len)[len(data["reviews"]) // 2]  # the median-length review
            signature = saved.signatures["serving_default"]
            calls = {"SavedModel": lambda: signature(text=tf.constant([review]))}
            calls.update({key: (lambda m=value: m.predict_text(review)) for key, value in loaded.items()})
            example = f"one review of {len(review.split())} words"
            texts = data["reviews"][:64]
            batch_calls = {"Keras": lambda: model.predict(texts, batch_size=64, verbose=0),
                           "SavedModel": lambda: signature(text=tf.constant(texts))}
            batch_calls.update({format: (lambda m=loaded[format]: m.predict(texts)) for format in FORMATS})
            batch = "64 reviews (the first 64 of the 200)"
        elif task == "pos_tagger":
            sentence = " ".join(next(words for words in data["sentences"] if len(words) == 20))
            signature = saved.signatures["tag_text"]
            calls = {"SavedModel": lambda: signature(text=tf.constant([sentence]))}
            calls.update({key: (lambda m=value: m.predict_text(sentence)) for key, value in loaded.items()})
            example = "one sentence of 20 words"
            sentences = data["sentences"][:64]
            texts = [" ".join(words) for words in sentences]
            batch_calls = {"Keras": lambda: model.predict(texts, batch_size=64, verbose=0),
                           "SavedModel": lambda: signature(text=tf.constant(texts))}
            batch_calls.update({format: (lambda m=loaded[format]: m.predict(sentences)) for format in FORMATS})
            batch = "64 sentences (the first 64 of the test set)"
        else:
            prompt, length = "ROMEO:", 100
            signature = saved.signatures["generate"]
            calls = {"SavedModel": lambda: signature(prompt=tf.constant([prompt]), max_length=tf.constant([length]),
                                                     temperature=tf.constant([0.0]), seed=tf.constant([1], tf.int64))}
            calls.update({key: (lambda m=value: m.generate(prompt, length=length, temperature=0.0))
                          for key, value in loaded.items()})
            example = f"generate {length} characters after {prompt!r} (greedy)"
        row = {"model": name, "task": task, "example": example, "repetitions": repetitions, "threads": threads,
               "median_ms": {key: round(value * 1e3, 2) for key, value in _timed_medians(calls, repetitions).items()},
               "file_bytes": sizes}
        if batch_calls:
            medians = _timed_medians(batch_calls, max(5, repetitions // 4))
            row["batch"] = batch
            row["batch_examples_per_s"] = {key: round(64 / value, 1) for key, value in medians.items()}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def markdown(accuracy, latency):
    """The README tables of the results."""
    lines = ["| model | format | max abs diff, padded batches (char LM: 2,000 characters at once) | max abs diff, "
             "unpadded (char LM: 20 calls of 100 characters, states carried) | same answers as Keras (both passes) | "
             "file MB | convert s |", "|---|---|---|---|---|---|---|"]
    for row in accuracy:
        lines.append(f"| {row['model']} | {row['format']} | {row['padded']:.1e} | {row['unpadded']:.1e} | "
                     f"{row['same_answers']:,}/{row['answers']:,} | {row['bytes'] / 1e6:.1f} | "
                     f"{row['convert_seconds']} |")
    if latency:
        lines += ["", "| model | example | Keras ms | SavedModel ms | onnxruntime ms | LiteRT ms | "
                  "SavedModel / .onnx / .tflite MB |", "|---|---|---|---|---|---|---|"]
        for row in latency:
            ms, size = row["median_ms"], row["file_bytes"]
            lines.append(f"| {row['model']} | {row['example']} | {ms['Keras']} | {ms['SavedModel']} | {ms['onnx']} | "
                         f"{ms['litert']} | {size['SavedModel'] / 1e6:.1f} / {size['onnx'] / 1e6:.1f} / "
                         f"{size['litert'] / 1e6:.1f} |")
        lines += ["", "| model | batch | Keras ex/s | SavedModel ex/s | onnxruntime ex/s | LiteRT ex/s |",
                  "|---|---|---|---|---|---|"]
        for row in latency:
            if "batch" in row:
                rate = row["batch_examples_per_s"]
                lines.append(f"| {row['model']} | {row['batch']} | {rate['Keras']} | {rate['SavedModel']} | "
                             f"{rate['onnx']} | {rate['litert']} |")
    return "\n".join(lines)


def main(argv=None):
    """Run the comparison (and the latency with `--latency`); write the JSON and print the tables.

    Example:

    >>> main(["--models", "charlm-shakespeare-rnn", "--out", "/tmp/portable.json"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", help="zoo names (default: every published model)")
    parser.add_argument("--latency", action="store_true", help="also time one example per task's best model")
    parser.add_argument("--latency-models", nargs="+", help="default: each task's best published model")
    parser.add_argument("--repetitions", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="onnxruntime / LiteRT threads")
    parser.add_argument("--merge", action="store_true",
                        help="keep --out's accuracy and latency rows of the models not measured now")
    parser.add_argument("--no-accuracy", action="store_true",
                        help="with --latency: re-measure the latency alone, keeping --out's earlier accuracy rows")
    parser.add_argument("--out", default="benchmarks/portable_exports.json")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    machine = machine_description()
    data = test_data()
    if arguments.no_accuracy:
        with open(arguments.out, encoding="utf-8") as file:
            earlier = json.load(file)
        accuracy = earlier["accuracy"]
        machine = {**machine, "accuracy_measured": earlier["machine"]}
    else:
        accuracy = accuracy_rows(arguments.models or zoo.list_models(), data)
    latency = []
    if arguments.latency:
        latency = latency_rows(arguments.latency_models or best_models(), data, arguments.repetitions,
                               arguments.threads)
    machine["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    if arguments.merge:
        with open(arguments.out, encoding="utf-8") as file:
            earlier = json.load(file)
        measured = {row["model"] for row in accuracy + latency}
        accuracy = [row for row in earlier["accuracy"] if row["model"] not in {r["model"] for r in accuracy}] + accuracy
        latency = [row for row in earlier["latency"] if row["model"] not in {r["model"] for r in latency}] + latency
        machine = {**earlier["machine"], "merged": [*earlier["machine"].get("merged", []),
                                                    {"models": sorted(measured), **machine}]}
    result = {"machine": machine, "seconds": round(time.perf_counter() - started), "accuracy": accuracy,
              "latency": latency}
    with open(arguments.out, "w", encoding="utf-8") as file:
        json.dump(result, file, indent=1)
    print(markdown(accuracy, latency))


if __name__ == "__main__":
    main()
