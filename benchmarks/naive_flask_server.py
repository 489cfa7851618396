"""The server a user would write first: Flask, `load_model`, `model.predict` per request.

Usage: `python -m benchmarks.naive_flask_server MODEL.keras --port N`
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    """Serve POST /predict {"text": ...} → {"probabilities": [...]}, GET /health.

    Example:

    >>> main(["--help"])  # doctest: +SKIP
    """
    import keras
    import tensorflow as tf
    from flask import Flask, jsonify, request

    from kerasrnn.zoo import load

    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args(argv)
    model = load(arguments.model)  # keras.saving.load_model with kerasrnn's classes registered
    app = Flask(__name__)

    @app.get("/health")
    def health():
        return "ok"

    @app.post("/predict")
    def predict():
        text = request.get_json()["text"]
        probabilities = model.predict(tf.constant([text]), verbose=0)[0]
        return jsonify({"probabilities": probabilities.tolist()})

    app.run(host="127.0.0.1", port=arguments.port, threaded=True)


if __name__ == "__main__":
    sys.exit(main())
