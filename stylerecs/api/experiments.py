"""Staff API for experiments: their arms and plan, and the per-arm report.

Read-only, with the admin's permissions (``view_experiment``); experiments are set up,
started and stopped in the admin.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ..models import Arm, Experiment
from ..services.experiment_analysis import experiment_plan, experiment_report
from .permissions import StaffModelPermissions
from .schema import OpenAPISchema, extend_method_schema


class ArmSerializer(serializers.ModelSerializer):
    hidden_style = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Arm
        fields = [
            "id",
            "slug",
            "name",
            "weight",
            "is_control",
            "variants",
            "ranking",
            "hidden_style",
            "stopped_at",
            "stop_reason",
        ]


class PlanSerializer(serializers.Serializer):
    method = serializers.CharField(help_text="fixed-horizon")
    baseline_conversion = serializers.FloatField()
    minimum_detectable_effect = serializers.FloatField()
    alpha = serializers.FloatField()
    power = serializers.FloatField()
    required_per_arm = serializers.IntegerField(
        allow_null=True, help_text="Shoppers each arm needs; null when the plan cannot be met."
    )
    error = serializers.CharField(allow_blank=True, help_text="Why the plan cannot be met.")
    smallest_arm = serializers.IntegerField(required=False)
    ready = serializers.BooleanField(required=False, help_text="Every arm reached the plan.")
    progress = serializers.FloatField(required=False)


class ExperimentSerializer(serializers.ModelSerializer):
    arms = ArmSerializer(many=True, read_only=True)
    plan = serializers.SerializerMethodField()

    class Meta:
        model = Experiment
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "status",
            "started_at",
            "stopped_at",
            "arms",
            "plan",
        ]

    @extend_schema_field(PlanSerializer)
    def get_plan(self, obj) -> dict:
        return PlanSerializer(experiment_plan(experiment=obj)).data


class ComparisonSerializer(serializers.Serializer):
    control = serializers.FloatField()
    treatment = serializers.FloatField()
    difference = serializers.FloatField(help_text="Treatment minus control.")
    low = serializers.FloatField(help_text="Lower bound of the confidence interval.")
    high = serializers.FloatField()
    p_value = serializers.FloatField()
    relative = serializers.FloatField(allow_null=True)
    significant = serializers.BooleanField()


class MetricsSerializer(serializers.Serializer):
    ctr = ComparisonSerializer(allow_null=True)
    cart_rate = ComparisonSerializer(allow_null=True)
    conversion = ComparisonSerializer(allow_null=True)
    revenue_per_shopper = ComparisonSerializer(allow_null=True)


class ArmComparisonSerializer(serializers.Serializer):
    arm = serializers.CharField()
    name = serializers.CharField()
    metrics = MetricsSerializer()


class ArmFiguresSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    is_control = serializers.BooleanField()
    weight = serializers.IntegerField()
    stopped_at = serializers.DateTimeField(allow_null=True)
    stop_reason = serializers.CharField()
    shoppers = serializers.IntegerField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    ctr = serializers.FloatField(allow_null=True)
    carted_shoppers = serializers.IntegerField()
    cart_rate = serializers.FloatField(allow_null=True)
    converted_shoppers = serializers.IntegerField()
    conversion = serializers.FloatField(allow_null=True)
    revenue = serializers.FloatField()
    revenue_per_shopper = serializers.FloatField(allow_null=True)


class SampleRatioSerializer(serializers.Serializer):
    observed = serializers.ListField(child=serializers.IntegerField())
    expected = serializers.ListField(child=serializers.FloatField())
    chi2 = serializers.FloatField()
    p_value = serializers.FloatField()
    mismatch = serializers.BooleanField()


class ReportExperimentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)


class ReportSerializer(serializers.Serializer):
    experiment = ReportExperimentSerializer()
    method = serializers.CharField()
    confidence = serializers.IntegerField(help_text="Confidence level of the intervals, %.")
    plan = PlanSerializer()
    srm = SampleRatioSerializer()
    warnings = serializers.ListField(child=serializers.CharField())
    arms = ArmFiguresSerializer(many=True)
    comparisons = ArmComparisonSerializer(many=True)


class ExperimentViewSet(viewsets.ReadOnlyModelViewSet):
    """Staff: experiments with their arms and plan; ``report`` gives the per-arm analysis."""

    queryset = Experiment.objects.prefetch_related("arms").order_by("-created_at", "-id")
    serializer_class = ExperimentSerializer
    permission_classes = [StaffModelPermissions]
    schema = OpenAPISchema()
    lookup_field = "slug"

    @extend_method_schema(responses=ReportSerializer)
    @action(detail=True, methods=["get"])
    def report(self, request, slug=None):
        """Per arm: shoppers, impressions, CTR, add-to-cart rate, conversion, revenue per
        shopper; differences from the control with confidence intervals; the SRM check."""
        report = experiment_report(experiment=self.get_object())
        return Response(ReportSerializer(report).data)
