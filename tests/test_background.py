"""A background loop stops even when its cancel is swallowed once, as ``asyncio.wait_for`` can on Python 3.11."""

from __future__ import annotations

import asyncio

from careline.background import Loop


class DeafOnce(Loop):
    """Ignores the first cancel, the way a loop around ``wait_for`` does when the cancel meets the wait's end."""

    def __init__(self) -> None:
        super().__init__()
        self.cancels = 0

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                self.cancels += 1
                if self.cancels > 1:
                    raise


def test_a_loop_that_loses_its_cancel_is_cancelled_again_and_stops() -> None:
    async def scenario() -> int:
        loop = DeafOnce()
        loop.start()
        await asyncio.sleep(0.05)
        await asyncio.wait_for(loop.stop(), timeout=5)
        return loop.cancels

    assert asyncio.run(scenario()) == 2
