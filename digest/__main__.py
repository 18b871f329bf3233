"""``python -m digest``."""

from .cli import main

if __name__ == "__main__":  # not in a process multiprocessing starts (it imports this)
    main()
