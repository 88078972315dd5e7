"""Fill an organisation with realistic demo data in every category.

Everything is made through the same services the actions call. Datasets are
uploaded and inspected, and a policy is trained by the real trainer. Models
are registered, evaluated and promoted. Robots are registered, deployed to
and stopped, and annotation work moves through review.
"""

import hashlib
import logging
import secrets
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from annotations import services as annotation_services
from centeros.demo.recordings import write_aloha, write_robomimic
from datasets import services as dataset_services
from datasets.models import Dataset
from datasets.storage import upload_token_read
from fleet import services as fleet_services
from models_registry import services as model_services
from orgs.models import Organization, User
from orgs.services import member_invite
from training import services as training_services
from training.executors.base import get_executor

logger = logging.getLogger(__name__)

DEMO_TAG = "demo"
# The first demo dataset; an organisation that has it is already seeded.
DEMO_MARKER_DATASET = "pick-place-can"

MEMBERS = [
    ("operator", "operator@example.com"),
    ("annotator", "annotator@example.com"),
    ("viewer", "viewer@example.com"),
]

ROBOTS = [
    ("arm-01", "Lab Arm 1", "arm", "lab-1"),
    ("arm-02", "Lab Arm 2", "arm", "lab-1"),
    ("aloha-01", "ALOHA Station", "bimanual", "lab-2"),
    ("g1-01", "Unitree G1", "humanoid", "lab-2"),
]


class Command(BaseCommand):
    help = (
        "Fill an organisation with demo datasets, a trained policy, models, "
        "evaluations, robots, deployments and annotation tasks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", default="demo", help="Organisation slug.")
        parser.add_argument(
            "--epochs", type=int, default=20, help="Epochs of the demo training run."
        )

    def handle(self, *args, **options):
        org = Organization.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(
                f"No organisation {options['org']!r}; run manage.py bootstrap first."
            )
        if Dataset.objects.for_org(org).filter(name=DEMO_MARKER_DATASET).exists():
            self.stdout.write(f"{org.slug} already has demo data; nothing to do.")
            return
        admin = (
            User.objects.filter(memberships__org=org, memberships__role="admin")
            .order_by("id")
            .first()
        )

        members = self._members(org, admin)
        with tempfile.TemporaryDirectory() as folder:
            datasets = self._datasets(org, admin, Path(folder))
        job = self._training(org, admin, datasets, options["epochs"])
        model = self._models(org, admin, job, datasets)
        self._fleet(org, admin, model)
        self._annotations(org, admin, members, datasets)
        self.stdout.write(self.style.SUCCESS(f"Demo data is ready in {org.slug}."))

    def _members(self, org, admin) -> dict[str, User]:
        users = {}
        for role, email in MEMBERS:
            user = User.objects.filter(email__iexact=email).first()
            if user is None or not user.memberships.filter(org=org).exists():
                membership, created = member_invite(
                    org=org, email=email, role=role, invited_by=admin
                )
                user = membership.user
                if created:
                    password = secrets.token_urlsafe(9)
                    user.set_password(password)
                    user.is_staff = True
                    user.save(update_fields=["password", "is_staff"])
                    self.stdout.write(
                        f"Member {user.username} ({role}), password: {password}"
                    )
            users[role] = user
        return users

    def _upload(self, org, admin, path: Path, name: str) -> Dataset:
        """Upload a file through the signed-upload services and confirm it."""
        size = path.stat().st_size
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with transaction.atomic():
            dataset, signed = dataset_services.dataset_upload_start(
                org=org,
                filename=path.name,
                file_size=size,
                name=name,
                sha256=digest,
                created_by=admin,
            )
        grant = upload_token_read(signed["url"].rstrip("/").rsplit("/", 1)[-1])
        with path.open("rb") as body:
            dataset_services.dataset_upload_receive(
                grant=grant, body=body, content_length=size
            )
        with transaction.atomic():
            dataset = dataset_services.dataset_confirm_upload(
                org=org, dataset_id=dataset.pk
            )
        Dataset.objects.filter(pk=dataset.pk).update(tags=[DEMO_TAG])
        self.stdout.write(
            f"Dataset {dataset.name}: {dataset.episode_count} episodes, "
            f"{dataset.frame_count} frames"
        )
        return dataset

    def _datasets(self, org, admin, folder: Path) -> list[Dataset]:
        pick = write_robomimic(folder / "pick_place_can.hdf5", episodes=12, seed=1)
        aloha = write_aloha(folder / "aloha_transfer_cube.hdf5", steps=400, seed=2)
        datasets = [
            self._upload(org, admin, pick, DEMO_MARKER_DATASET),
            self._upload(org, admin, aloha, "aloha-transfer-cube"),
        ]
        with transaction.atomic():
            pending = dataset_services.dataset_create(
                org=org,
                name="warehouse-grasps-2026-11",
                description="Teleoperated grasps, waiting for upload.",
                tags=[DEMO_TAG],
                created_by=admin,
            )
        datasets.append(pending)
        return datasets

    def _training(self, org, admin, datasets, epochs: int):
        with transaction.atomic():
            job = training_services.training_job_create(
                org=org,
                user=admin,
                dataset_ids=[datasets[0].pk],
                name="pick-place-bc",
                model_type="bc_mlp",
                hyperparameters={"epochs": epochs, "batch_size": 64, "seed": 0},
            )
            # No worker task: the demo trains in this process, so that it ends
            # with a real model whether or not a worker is running.
            training_services.training_job_launch(org=org, job_id=job.id, enqueue=False)
        status = get_executor(job.executor).run(job.id)
        self.stdout.write(f"Training job {job.id}: {status}")
        with transaction.atomic():
            training_services.training_job_create(
                org=org,
                user=admin,
                dataset_ids=[datasets[1].pk],
                name="aloha-bc-sweep",
                model_type="bc_mlp",
                hyperparameters={"epochs": 200, "learning_rate": 0.0005},
            )
        job.refresh_from_db()
        return job

    def _models(self, org, admin, job, datasets):
        with transaction.atomic():
            model = model_services.model_version_register(
                org=org, name="pick-place-bc", user=admin, training_job_id=job.id
            )
            evaluation = model_services.evaluation_create(
                org=org,
                model_version_id=model.pk,
                name="sim-pick-place-50-trials",
                user=admin,
                dataset_id=datasets[0].pk,
                environment="robosuite PickPlaceCan",
            )
            model_services.evaluation_record_result(
                org=org,
                evaluation_id=evaluation.pk,
                metrics={"success_rate": 0.82, "trials": 50},
                passed=True,
            )
            model = model_services.model_version_promote(
                org=org,
                model_version_id=model.pk,
                target_status="validated",
                user=admin,
                reason="82% success in simulation",
            )
            model_services.model_version_register(
                org=org,
                name="pick-place-bc",
                user=admin,
                training_job_id=job.id,
                description="Second registration of the same run, kept as a draft.",
            )
        self.stdout.write(f"Model {model.name} v{model.version}: {model.status}")
        return model

    def _fleet(self, org, admin, model) -> None:
        with transaction.atomic():
            for robot_id, name, robot_type, site in ROBOTS:
                fleet_services.robot_register(
                    org=org,
                    robot_id=robot_id,
                    name=name,
                    robot_type=robot_type,
                    site=site,
                    created_by=admin,
                )
            fleet_services.deployment_create(
                org=org,
                robot_id="arm-01",
                model_version_id=model.pk,
                created_by=admin,
            )
            fleet_services.robot_emergency_stop(
                org=org,
                robot_id="g1-01",
                reason="Hand sensor reading out of range",
                requested_by=admin,
            )
        self.stdout.write(f"Robots: {', '.join(robot[0] for robot in ROBOTS)}")

    def _annotations(self, org, admin, members, datasets) -> None:
        annotator = members["annotator"]
        titles = [
            ("Label grasp phases", "video", "high"),
            ("Mark failed grasps", "episode", "urgent"),
            ("Segment bimanual handovers", "trajectory", "medium"),
            ("Tag lighting conditions", "image", "low"),
            ("Check gripper state labels", "episode", "medium"),
        ]
        with transaction.atomic():
            tasks = [
                annotation_services.annotation_task_create(
                    org=org,
                    created_by=admin,
                    title=title,
                    dataset_id=datasets[index % 2].pk,
                    data_type=data_type,
                    priority=priority,
                )
                for index, (title, data_type, priority) in enumerate(titles)
            ]
            for task in tasks[1:]:
                annotation_services.annotation_task_assign(
                    org=org, task_id=task.pk, assignee_id=annotator.pk
                )
            for task in tasks[2:]:
                annotation_services.annotation_task_submit(
                    org=org, task_id=task.pk, submitted_by=annotator
                )
            annotation_services.annotation_task_review(
                org=org,
                task_id=tasks[3].pk,
                reviewer=admin,
                decision="approved",
            )
            annotation_services.annotation_task_review(
                org=org,
                task_id=tasks[4].pk,
                reviewer=admin,
                decision="rejected",
                comment="Gripper closes at frame 212, not 230; fix the boundary.",
            )
        self.stdout.write(f"Annotation tasks: {len(tasks)}")
