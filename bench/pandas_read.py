"""The reference reader for `npm run bench -- csv`: pandas on one file; prints {"ms", "rows"} as JSON. Run with
Debian's /usr/bin/python3 (apt-get install python3-pandas; python3-openpyxl for .xlsx)."""
import json
import sys
import time

import pandas as pd

file = sys.argv[1]
start = time.perf_counter()
frame = pd.read_excel(file) if file.endswith(".xlsx") else pd.read_csv(file)
ms = (time.perf_counter() - start) * 1000
print(json.dumps({"ms": ms, "rows": len(frame), "pandas": pd.__version__}))
