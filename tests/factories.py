"""factory-boy factories for every model of the platform."""

import factory
from django.utils import timezone

from annotations.models import AnnotationTask
from datasets.choices import DatasetFileType, DatasetStatus
from datasets.models import Dataset
from fleet.models import Alert, Deployment, Robot, RobotCommand
from models_registry.models import Evaluation, ModelVersion
from orgs.models import Membership, Organization, User
from training.models import TrainingJob


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Robot Lab {n}")
    slug = factory.Sequence(lambda n: f"robot-lab-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-42")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    org = factory.SubFactory(OrganizationFactory)
    role = "admin"


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"grasp-episodes-{n}")
    file_type = DatasetFileType.HDF5
    status = DatasetStatus.READY
    original_filename = factory.LazyAttribute(lambda d: f"{d.name}.hdf5")
    storage_key = factory.LazyAttribute(lambda d: f"datasets/{d.org.pk}/{d.name}.hdf5")
    size_bytes = 48112
    sha256 = "0" * 64
    episode_count = 10
    frame_count = 1740
    metadata = factory.LazyFunction(lambda: {"format": "hdf5", "episodes": 10})
    ready_at = factory.LazyFunction(timezone.now)


class TrainingJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingJob
        skip_postgeneration_save = True

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"bc-run-{n}")
    model_type = "bc_mlp"

    @factory.post_generation
    def datasets(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.datasets.set(extracted)


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"pick-policy-{n}")
    version = 1
    model_type = "bc_mlp"
    artifact_uri = "artifacts/model.npz"


class EvaluationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evaluation

    model_version = factory.SubFactory(ModelVersionFactory)
    org = factory.SelfAttribute("model_version.org")
    name = factory.Sequence(lambda n: f"sim-eval-{n}")


class RobotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Robot

    org = factory.SubFactory(OrganizationFactory)
    robot_id = factory.Sequence(lambda n: f"arm-{n:02d}")
    name = factory.LazyAttribute(lambda r: f"Lab {r.robot_id}")
    robot_type = "arm"
    site = "lab-1"


class RobotCommandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RobotCommand

    robot = factory.SubFactory(RobotFactory)
    org = factory.SelfAttribute("robot.org")
    kind = "deploy"
    priority = 100


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    robot = factory.SubFactory(RobotFactory)
    org = factory.SelfAttribute("robot.org")
    model_version = factory.SubFactory(
        ModelVersionFactory, org=factory.SelfAttribute("..org"), status="validated"
    )


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    robot = factory.SubFactory(RobotFactory)
    org = factory.SelfAttribute("robot.org")
    code = factory.Sequence(lambda n: f"fault_{n}")
    severity = "warning"
    message = "Motor temperature high"


class AnnotationTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnnotationTask

    org = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Label grasp episodes {n}")


class AnnotationReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "annotations.AnnotationReview"

    task = factory.SubFactory(AnnotationTaskFactory)
    decision = "approved"
