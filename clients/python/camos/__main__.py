# SPDX-License-Identifier: Apache-2.0
"""python3 -m camos: the `cam` command line."""
import sys

from .cli import main

sys.exit(main())
