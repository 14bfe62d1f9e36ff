"""scikit-learn reference of the training bench (Debian's python3-sklearn, run with /usr/bin/python3): the article's
job, MLPClassifier(hidden_layer_sizes=(100, 100), solver='sgd', learning_rate_init=0.1) with its default batch
of 200 (and its other defaults: Nesterov momentum 0.9, alpha 1e-4), on the same digits train part as LayerLab's
(the rows are sent by the caller, so both sides train on identical data).

Usage: python3 bench/sklearn_bench.py --serve
  first stdin line: {"x": [[...], ...], "y": [...]} (the train part); then one case per line:
  {"epochs": 20, "batch": 200, "seed": 0} -> {"msPerEpoch": ..., "epochs": n_iter_, "ms": total fit ms}
The fit runs all its epochs (n_iter_no_change past max_iter, so sklearn's own stopping rule never ends it early);
msPerEpoch is the whole fit (input checks and initialisation included) over its epochs, as LayerLab's figure is
the whole stage over its epochs.
"""
import json
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier


def fit(x, y, case):
    epochs = case.get("epochs", 20)
    model = MLPClassifier(
        hidden_layer_sizes=(100, 100),
        solver="sgd",
        learning_rate_init=0.1,
        batch_size=case.get("batch", 200),
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        random_state=case.get("seed", 0),
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    ms = (time.perf_counter() - start) * 1000
    return {"msPerEpoch": ms / model.n_iter_, "epochs": model.n_iter_, "ms": ms, "trainAccuracy": float(model.score(x, y))}


def main():
    print(json.dumps({"ready": True, "sklearn": sklearn.__version__}), flush=True)
    part = json.loads(sys.stdin.readline())
    x = np.asarray(part["x"], dtype=np.float64)
    y = np.asarray(part["y"], dtype=np.int64)
    fit(x, y, {"epochs": 3})  # warm-up: imports, BLAS threads, first allocations
    print(json.dumps({"rows": len(x), "features": x.shape[1]}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(fit(x, y, json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
