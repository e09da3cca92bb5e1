"""File I/O shared by hsmsync and its emulator: neither the product nor the emulator owns it.

Both processes write the same state file, so they must agree on more than its JSON shape: on the
lock writers take (`<state>.lock`), on the atomic rename readers rely on, and on the temp files a
killed writer leaves. One copy of that protocol lives here (`statefile`, over `textfiles`), so the
file backend and the emulator cannot drift apart. It imports of `hsmsync` only the pure core.
"""
