"""Background task that runs a launched training job on a worker.

``training_job_launch`` enqueues ``run_training_job`` on the ``training``
queue after its transaction commits. A worker started with ``manage.py
db_worker --queue-name training`` (or ``'*'`` for every queue) picks it up
and hands the job to the executor named on the job.
"""

import logging

from django_tasks import task

from training.executors import get_executor
from training.models import TrainingJob

logger = logging.getLogger(__name__)


@task(queue_name="training")
def run_training_job(job_id: str) -> str:
    """Run the training job ``job_id`` and return its final status."""
    executor_name = (
        TrainingJob.objects.filter(pk=job_id).values_list("executor", flat=True).first()
    )
    if executor_name is None:
        logger.warning("Training job %s no longer exists; task skipped", job_id)
        return ""

    logger.info("Worker task started for training job %s (%s)", job_id, executor_name)
    status = get_executor(executor_name).run(job_id)
    logger.info("Worker task finished for training job %s: %s", job_id, status)
    return status
