"""IMDB: does averaging the BiGRU with the bag-of-bigrams baseline reach the 91.5% target of issue #13?

An experiment, run top to bottom from the repository root:

    python docs/experiments/imdb_average_with_bigrams.py

It trains the tf-idf unigram + bigram logistic regression exactly as
`python -m tools.zoo baselines` does (best of 5 epochs on the zoo's validation
split), loads the published `sentiment-imdb-bigru`, and scores each model and
the mean of their positive-class probabilities on the 2,500 validation
reviews and the 25,000 official test reviews. The mean is not a recurrent
model, so it is reported here, not published in the zoo (the issue's targets
are for recurrent models). Measured on 2026-11-24 (2 CPU cores, nothing else
running): baseline 91.32% / 89.81%, BiGRU 91.48% / 89.93%, mean 92.32% /
91.43% (validation / test); the two agree on 89.6% of the test reviews.
"""

import json
import time

import numpy as np
import keras
import tensorflow as tf
from kerasrnn.data.imdb import load_imdb, split_validation
from kerasrnn.tasks.sentiment.baseline import bigram_tfidf_classifier, tfidf_batches
import kerasrnn.zoo.api as zoo

SEED = 1337
data = load_imdb("../shared/data/aclImdb_v1_labeled.tar.gz")
(train_texts, train_labels), (val_texts, val_labels) = split_validation(*data["train"], 0.1, SEED)
test_texts, test_labels = data["test"]
val_labels, test_labels = np.asarray(val_labels), np.asarray(test_labels)
print("labels", set(val_labels.tolist()), flush=True)

# The baseline exactly as `python -m tools.zoo baselines` trains it (best validation epoch of 5).
keras.utils.set_random_seed(SEED)
started = time.perf_counter()
vectorizer, linear = bigram_tfidf_classifier(train_texts)
best = keras.callbacks.EarlyStopping("val_accuracy", mode="max", patience=5, restore_best_weights=True)
linear.fit(tfidf_batches(vectorizer, train_texts, train_labels, shuffle=True, seed=SEED),
           validation_data=tfidf_batches(vectorizer, val_texts, val_labels), epochs=5,
           callbacks=[best], verbose=2)
print(f"baseline trained in {time.perf_counter() - started:.0f} s, best epoch {best.best_epoch + 1}", flush=True)
linear_val = linear.predict(tfidf_batches(vectorizer, val_texts), verbose=0)[:, 0]
linear_test = linear.predict(tfidf_batches(vectorizer, test_texts), verbose=0)[:, 0]

classifier = zoo.load("sentiment-imdb-bigru")
print("classifier labels", classifier.preprocessor.labels, flush=True)
def recurrent_probability(texts):
    order = np.argsort([len(text) for text in texts])  # similar lengths per batch: less padding
    probabilities = classifier.predict([texts[i] for i in order], batch_size=64, verbose=0)
    result = np.empty(len(texts), "float32")
    result[order] = probabilities[:, classifier.preprocessor.labels.index("pos")]
    return result
started = time.perf_counter()
recurrent_val, recurrent_test = recurrent_probability(val_texts), recurrent_probability(test_texts)
print(f"BiGRU predicted in {time.perf_counter() - started:.0f} s", flush=True)

def accuracy(probability, labels):
    return float(np.mean((probability > 0.5).astype(int) == labels))
results = {}
for name, (val, test) in {"bigram baseline": (linear_val, linear_test), "BiGRU": (recurrent_val, recurrent_test),
                          "mean of both": ((linear_val + recurrent_val) / 2, (linear_test + recurrent_test) / 2)}.items():
    results[name] = {"validation": accuracy(val, val_labels), "test": accuracy(test, test_labels)}
    print(f"{name:16s} validation {results[name]['validation']:.4f}  test {results[name]['test']:.4f}", flush=True)
print("agreement on test:", float(np.mean((linear_test > 0.5) == (recurrent_test > 0.5))))
print(json.dumps(results, indent=1))
