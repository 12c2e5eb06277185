"""A dialog asked from a coroutine: ``await dialog.answer()`` opens it without a nested event
loop (``exec()`` would freeze the asyncio work behind it) and resolves when the user decides."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QDialog


class QuestionDialog(QDialog):
    """Subclasses build their content; call :meth:`_expect_answer` once the loop is running."""

    def _expect_answer(self) -> None:
        self._answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.finished.connect(self._finished)

    def _finished(self, result: int) -> None:
        if not self._answer.done():
            self._answer.set_result(result == QDialog.DialogCode.Accepted.value)

    async def answer(self) -> bool:
        """True when accepted, False when rejected or closed."""
        self.open()
        return await self._answer
