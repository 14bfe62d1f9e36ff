"""The scikit-learn reference of the regression bench (Debian's python3-sklearn, run with /usr/bin/python3).

Reads one JSON job on stdin: {"csv": path, "target": column, "fits": {name: [rows]}, "test": [rows], "seeds": [..]}.
For each set of fitting rows, fits MLPRegressor(100, 100) with its defaults, features and target standardised on
those rows (StandardScaler in a pipeline, TransformedTargetRegressor for the target), and prints {"sklearn": version,
"r2": {name: [test R² per seed]}, "rmse": {name: [...]}} as one JSON line.
"""
import csv
import json
import sys
import warnings

import numpy as np
import sklearn
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main():
    job = json.load(sys.stdin)
    with open(job["csv"], newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    t = header.index(job["target"])
    data = np.array([[float(v) for v in row] for row in body])
    x = np.delete(data, t, axis=1)
    y = data[:, t]
    test = np.array(job["test"])
    r2, rmse = {}, {}
    for name, rows in job["fits"].items():
        r2[name], rmse[name] = fit(x, y, np.array(rows), test, job["seeds"])
    print(json.dumps({"sklearn": sklearn.__version__, "r2": r2, "rmse": rmse}))


def fit(x, y, train, test, seeds):
    r2, rmse = [], []
    for seed in seeds:
        model = TransformedTargetRegressor(
            regressor=make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(100, 100), random_state=seed)),
            transformer=StandardScaler(),
        )
        with warnings.catch_warnings():
            # The default 200 iterations end before "convergence" on small tables: the defaults are the reference.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x[train], y[train])
        predicted = model.predict(x[test])
        r2.append(float(r2_score(y[test], predicted)))
        rmse.append(float(np.sqrt(mean_squared_error(y[test], predicted))))
    return r2, rmse


if __name__ == "__main__":
    main()
