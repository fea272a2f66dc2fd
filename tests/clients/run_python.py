# SPDX-License-Identifier: Apache-2.0
"""Runs the Python client tests named on the command line (modules of this
folder) with the interpreter it is started with, and closes with
"N passed, N failed" counted from unittest's own result."""
import sys
import unittest


def main(names):
    suite = unittest.defaultTestLoader.loadTestsFromNames(names)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print("python clients: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
