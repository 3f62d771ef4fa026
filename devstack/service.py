"""The start/stop/`with` shape shared by the local stack's servers and pollers."""

from abc import ABC, abstractmethod
from typing import Self


class Service(ABC):
    @abstractmethod
    def start(self) -> object: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
