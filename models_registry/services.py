"""Write-side rules of the model registry: registration, promotion, evaluations.

Every status change of a model version goes through this module, so each one
is checked against the lifecycle, made under a row lock and recorded as a
ModelTransition. The action layer, the admin and other apps (fleet, when a
deployment succeeds) call these functions; none of them changes a status
field directly.
"""

import logging

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from centeros.errors import Conflict, InvalidInput
from datasets.choices import DatasetStatus
from datasets.models import Dataset
from models_registry.choices import EvaluationStatus, ModelStatus
from models_registry.models import Evaluation, ModelTransition, ModelVersion
from orgs.models import Organization, User
from training.choices import JobStatus
from training.models import TrainingJob

logger = logging.getLogger(__name__)

# Concurrent registrations of one name can pick the same next version. The
# one that loses on the unique constraint reads the new maximum and tries
# again, so five attempts let five simultaneous registrations all succeed.
MAX_VERSION_ATTEMPTS = 5

DEFAULT_DEPLOYED_REASON = "First successful deployment."


def _single_line(value: str) -> str:
    """Return user text with line breaks replaced, for log lines."""
    return value.replace("\r", " ").replace("\n", " ")


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInput(
            "The model name is blank. Give a name such as 'pick-policy'.",
            errors={"name": ["May not be blank."]},
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in cleaned):
        raise InvalidInput(
            f"The model name {cleaned!r} contains control characters. Use "
            "printable characters only.",
            errors={"name": ["Contains control characters."]},
        )
    return cleaned


def _clean_tags(tags: list[str] | None) -> list[str]:
    """Return the tags stripped, without blanks or repeats, in input order."""
    cleaned: list[str] = []
    for tag in tags or []:
        tag = tag.strip()
        if tag and tag not in cleaned:
            cleaned.append(tag)
    return cleaned


EXTERNAL_ARTIFACT_SCHEMES = ("s3://", "gs://", "https://", "http://")


def artifact_key_prefix(org_id: int) -> str:
    """Return the storage folder of an organisation's model artifacts."""
    return f"artifacts/{org_id}/"


def is_own_artifact_key(key: str, *, org_id: int) -> bool:
    """Return whether ``key`` is a storage key under the org's artifact folder.

    Download URLs are signed only for such keys. A URI with a scheme, an
    absolute path or a ``..`` segment never qualifies, because storage
    backends normalise those into keys of other organisations.
    """
    return (
        "://" not in key
        and not key.startswith("/")
        and ".." not in key.split("/")
        and key.startswith(artifact_key_prefix(org_id))
    )


def _check_artifact_uri(*, org: Organization, artifact_uri: str) -> None:
    """Accept an external URL, or a storage key of this organisation's.

    The platform later signs download URLs for a storage key, so the key
    must name an existing object under ``artifacts/<org id>/``. A key of
    another organisation, a path that climbs out with ``..`` or an absolute
    path would hand out files the caller may not read.
    """
    lowered = artifact_uri.lower()
    if lowered.startswith(EXTERNAL_ARTIFACT_SCHEMES):
        # The part after the scheme must name a host or bucket, not climb.
        rest = artifact_uri.split("://", 1)[1]
        if rest and not rest.startswith(("/", ".")) and ".." not in rest.split("/"):
            return
        raise InvalidInput(
            f"artifact_uri {artifact_uri[:200]!r} must name a bucket or host "
            "after the scheme, without '..' segments.",
            errors={"artifact_uri": ["Not an allowed artifact location."]},
        )
    prefix = artifact_key_prefix(org.pk)
    if not is_own_artifact_key(artifact_uri, org_id=org.pk):
        raise InvalidInput(
            f"artifact_uri {artifact_uri[:200]!r} is neither an s3://, gs:// or "
            f"https:// URL nor a stored artifact of this organisation (a key "
            f"under {prefix}). Register from training_job_id to use a job's "
            "artifact.",
            errors={"artifact_uri": ["Not an allowed artifact location."]},
        )
    if not default_storage.exists(artifact_uri):
        raise InvalidInput(
            f"No stored artifact at {artifact_uri[:200]!r}.",
            errors={"artifact_uri": ["No such stored object."]},
        )


def _succeeded_job(*, org: Organization, training_job_id: str) -> TrainingJob:
    job = TrainingJob.objects.get_for_org(org, pk=training_job_id, label="training job")
    if job.status != JobStatus.SUCCEEDED:
        raise Conflict(
            f"Training job {job.id} is {job.status}, but only a succeeded job can "
            "be registered as a model. Wait until a queued or running job "
            "succeeds, or give the id of another job.",
            code="training_job_not_succeeded",
        )
    return job


def _next_version(*, org: Organization, name: str) -> int:
    latest = (
        ModelVersion.objects.for_org(org)
        .filter(name=name)
        .aggregate(latest=Max("version"))["latest"]
    )
    return (latest or 0) + 1


@transaction.atomic
def model_version_register(
    *,
    org: Organization,
    name: str,
    user: User | None = None,
    training_job_id: str | None = None,
    artifact_uri: str = "",
    description: str = "",
    metrics: dict | None = None,
    tags: list[str] | None = None,
    model_type: str = "",
) -> ModelVersion:
    """Register the next version of the model ``name`` in ``org`` as a draft.

    Versions number 1, 2, 3 per name and organisation, also when several
    registrations of one name run at once. With ``training_job_id`` the job
    must belong to ``org`` (NotFound otherwise) and have succeeded (Conflict
    otherwise). The job's artifact key, checksum and size fill in a missing
    ``artifact_uri``, and its model type a missing ``model_type``. Raises
    InvalidInput when neither an artifact nor a job with an artifact is
    given.
    """
    name = _clean_name(name)
    artifact_uri = artifact_uri.strip()
    if artifact_uri:
        _check_artifact_uri(org=org, artifact_uri=artifact_uri)

    # Step 1: take the artifact from the explicit URI or from the job.
    job = None
    artifact_sha256 = ""
    artifact_size = None
    if training_job_id:
        job = _succeeded_job(org=org, training_job_id=training_job_id)
        model_type = model_type or job.model_type
        if not artifact_uri:
            artifact_uri = job.artifact_key
            artifact_sha256 = job.artifact_sha256
            artifact_size = job.artifact_size
    if not artifact_uri:
        if job is not None:
            raise InvalidInput(
                f"Training job {job.id} stored no artifact. Give artifact_uri "
                "to register the model.",
                errors={"artifact_uri": ["Required: the job has no artifact."]},
            )
        raise InvalidInput(
            "A model needs an artifact: give artifact_uri, or training_job_id of "
            "a succeeded job whose artifact is used.",
            errors={"artifact_uri": ["Give artifact_uri or training_job_id."]},
        )

    # Step 2: insert with the next free version. Registrations in one
    # organisation queue on its row, so concurrent ones rarely collide. When
    # one still does, the insert fails on the unique constraint, and the
    # savepoint keeps the outer transaction usable for the retry.
    Organization.objects.select_for_update().filter(pk=org.pk).first()
    for attempt in range(1, MAX_VERSION_ATTEMPTS + 1):
        version = _next_version(org=org, name=name)
        try:
            with transaction.atomic():
                model_version = ModelVersion.objects.create(
                    org=org,
                    name=name,
                    version=version,
                    description=description,
                    model_type=model_type,
                    training_job=job,
                    artifact_uri=artifact_uri,
                    artifact_sha256=artifact_sha256,
                    artifact_size=artifact_size,
                    metrics=metrics or {},
                    tags=_clean_tags(tags),
                    created_by=user,
                )
        except IntegrityError:
            logger.info(
                "Version %s of model %r in org %s was taken concurrently "
                "(attempt %s of %s); retrying",
                version,
                _single_line(name),
                org.pk,
                attempt,
                MAX_VERSION_ATTEMPTS,
            )
            continue
        logger.info(
            "Registered model %r v%s (id %s) in org %s from job %s",
            _single_line(name),
            model_version.version,
            model_version.pk,
            org.pk,
            job.id if job else None,
        )
        return model_version

    logger.warning(
        "Gave up numbering model %r in org %s after %s attempts",
        _single_line(name),
        org.pk,
        MAX_VERSION_ATTEMPTS,
    )
    raise Conflict(
        f"Other registrations of the model {name!r} kept taking the next version "
        "number; try the registration again.",
        code="version_conflict",
    )


def _record_transition(
    *,
    model_version: ModelVersion,
    target: str,
    user: User | None,
    reason: str,
) -> ModelTransition:
    """Move a locked version to ``target``, save it and record the change."""
    from_status = model_version.status
    model_version.transition_to(target)
    model_version.save(update_fields=["status", "updated_at"])
    transition = ModelTransition.objects.create(
        model_version=model_version,
        from_status=from_status,
        to_status=target,
        reason=reason,
        changed_by=user,
    )
    logger.info(
        "Model version %s (%s v%s) moved from %s to %s by user %s",
        model_version.pk,
        _single_line(model_version.name),
        model_version.version,
        from_status,
        target,
        user.pk if user else None,
    )
    return transition


def _check_passing_evaluation(
    *, org: Organization, model_version: ModelVersion
) -> None:
    """Raise Conflict when ``org`` requires a passing evaluation that is absent."""
    if not org.require_passing_evaluation:
        return
    passing = model_version.evaluations.filter(
        status=EvaluationStatus.COMPLETED, passed=True
    ).exists()
    if not passing:
        raise Conflict(
            f"Model {model_version.name} v{model_version.version} has no "
            "completed evaluation that passed, and this organisation requires "
            "one before a model is validated. Record a passing evaluation "
            "first.",
            code="passing_evaluation_required",
        )


@transaction.atomic
def model_version_promote(
    *,
    org: Organization,
    model_version_id: int,
    target_status: str,
    user: User | None = None,
    reason: str = "",
) -> ModelVersion:
    """Move a model version of ``org`` to ``target_status`` and record it.

    The version row is locked, so of two concurrent promotions one wins and
    the other reads the new status and gets Conflict. Raises InvalidInput for
    an unknown status, Conflict for a move the lifecycle does not allow (the
    message names the allowed next states), and Conflict for draft to
    validated when the organisation requires a passing evaluation and the
    version has none.
    """
    model_version = ModelVersion.objects.select_for_update().get_for_org(
        org, pk=model_version_id, label="model version"
    )
    model_version.check_transition(target_status)

    if (
        model_version.status == ModelStatus.DRAFT
        and target_status == ModelStatus.VALIDATED
    ):
        _check_passing_evaluation(org=org, model_version=model_version)

    _record_transition(
        model_version=model_version, target=target_status, user=user, reason=reason
    )
    return model_version


@transaction.atomic
def model_version_mark_deployed(
    *,
    model_version: ModelVersion,
    user: User | None = None,
    reason: str = DEFAULT_DEPLOYED_REASON,
) -> ModelVersion:
    """Move a validated version to deployed after its first successful rollout.

    Meant for the fleet app when a deployment succeeds. Returns the version
    as stored after the call. A version that is already deployed is returned
    unchanged, with no new transition, so every later successful deployment
    may call this too. Any other status (draft, retired) raises Conflict,
    because the lifecycle does not allow the move.
    """
    locked = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
    if locked.status == ModelStatus.DEPLOYED:
        return locked

    _record_transition(
        model_version=locked, target=ModelStatus.DEPLOYED, user=user, reason=reason
    )
    return locked


@transaction.atomic
def evaluation_create(
    *,
    org: Organization,
    model_version_id: int,
    name: str,
    user: User | None = None,
    dataset_id: int | None = None,
    environment: str = "",
    notes: str = "",
) -> Evaluation:
    """Create a pending evaluation of a model version of ``org``.

    The model version and the dataset must belong to ``org`` (NotFound
    otherwise), and the dataset must be ready (Conflict otherwise), because
    an evaluation on a file that failed inspection or never finished
    uploading would not mean anything.
    """
    name = name.strip()
    if not name:
        raise InvalidInput(
            "The evaluation name is blank. Give a name such as 'sim-pick-50'.",
            errors={"name": ["May not be blank."]},
        )

    model_version = ModelVersion.objects.get_for_org(
        org, pk=model_version_id, label="model version"
    )
    dataset = None
    if dataset_id is not None:
        dataset = Dataset.objects.get_for_org(org, pk=dataset_id, label="dataset")
        if dataset.status != DatasetStatus.READY:
            raise Conflict(
                f"Dataset {dataset.pk} is {dataset.status}, but only a ready dataset "
                "can be used for an evaluation. Wait until it is ready or "
                "choose another dataset.",
                code="dataset_not_ready",
            )

    evaluation = Evaluation.objects.create(
        org=org,
        model_version=model_version,
        name=name,
        dataset=dataset,
        environment=environment.strip(),
        notes=notes,
        created_by=user,
    )
    logger.info(
        "Created evaluation %s of model version %s in org %s",
        evaluation.pk,
        model_version.pk,
        org.pk,
    )
    return evaluation


@transaction.atomic
def evaluation_record_result(
    *,
    org: Organization,
    evaluation_id: int,
    metrics: dict,
    passed: bool,
    notes: str | None = None,
) -> Evaluation:
    """Store the metrics and verdict of a pending evaluation and complete it.

    The evaluation row is locked, so a result is recorded once: a completed
    or failed evaluation raises Conflict. ``notes``, when given, replaces the
    evaluation's notes.
    """
    evaluation = Evaluation.objects.select_for_update().get_for_org(
        org, pk=evaluation_id, label="evaluation"
    )
    evaluation.transition_to(EvaluationStatus.COMPLETED)
    evaluation.metrics = metrics
    evaluation.passed = passed
    evaluation.completed_at = timezone.now()
    update_fields = ["status", "metrics", "passed", "completed_at"]
    if notes is not None:
        evaluation.notes = notes
        update_fields.append("notes")
    evaluation.save(update_fields=update_fields)

    logger.info(
        "Recorded result of evaluation %s (model version %s): passed=%s",
        evaluation.pk,
        evaluation.model_version_id,
        passed,
    )
    return evaluation
