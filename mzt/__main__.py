from __future__ import annotations

from mzt.cli import main

if __name__ == "__main__":
    main()
