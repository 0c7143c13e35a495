#!/usr/bin/env python3
"""What a hash-embedded model keeps: docs/compression.md and its plots (code in compression_report/).

python eval/compression.py --out docs          # full run, about 3 hours on 2 cores
python eval/compression.py --quick --out DIR   # smoke run on tiny budgets and data
"""

import sys

from compression_report.run import main

if __name__ == "__main__":
    sys.exit(main())
