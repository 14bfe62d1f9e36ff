"""The whole-process reference of `npm run bench -- train-cold`: what an analyst runs to do the article's job in
scikit-learn, timed from the process start to its answer: read the digits CSV, split it (70/15/15, stratified, as
LayerLab's default split), fit MLPClassifier((100, 100), solver='sgd', learning_rate_init=0.1) for 20 epochs with
its default batch of 200, score the test rows. Run with Debian's /usr/bin/python3.

Usage: python3 bench/sklearn_cold.py FILE.csv  ->  {"testAccuracy": ..., "testRows": n, "fitMs": ...}
"""
import json
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

table = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
x, y = table[:, :-1], table[:, -1].astype(np.int64)
x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)
_, x_test, _, y_test = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0)
scaler = StandardScaler().fit(x_train)
model = MLPClassifier(hidden_layer_sizes=(100, 100), solver="sgd", learning_rate_init=0.1, max_iter=20, n_iter_no_change=21, random_state=0)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(scaler.transform(x_train), y_train)
fit_ms = (time.perf_counter() - start) * 1000
accuracy = float(model.score(scaler.transform(x_test), y_test))
print(json.dumps({"testAccuracy": accuracy, "testRows": len(y_test), "fitMs": fit_ms}))
