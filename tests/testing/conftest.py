"""The planted-bug architectures are a helper module of these tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
