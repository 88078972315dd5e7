"""Executors: the backends that run a launched training job's trainer."""

from training.executors.base import Executor, ExecutorError, get_executor

__all__ = ["Executor", "ExecutorError", "get_executor"]
