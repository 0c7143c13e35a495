#!/usr/bin/env python3
"""The embedding-quality report, docs/quality.md and docs/img/*.png (code in quality_report/).

python eval/quality.py --out docs          # full run: docs/quality.md and docs/img/*.png
python eval/quality.py --quick --out DIR   # smoke run on small inputs, well under a minute
"""

import sys

from quality_report.cli import main

if __name__ == "__main__":
    sys.exit(main())
