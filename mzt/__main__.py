from __future__ import annotations

from mzt.entry import main

if __name__ == "__main__":
    main()
