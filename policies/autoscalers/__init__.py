"""Autoscaling policies: each turns a ClusterView into a ScaleDecision; plus scale-in victims."""

from policies.autoscalers import (
    concurrency,
    predictive,
    scheduled,
    step,
    target_tracking,
    threshold,
)
from policies.autoscalers._inner import LEAF_POLICIES, inner_config
from policies.autoscalers.behavior import ScalingPolicy, ScalingRules
from policies.autoscalers.concurrency import Concurrency, ConcurrencyConfig
from policies.autoscalers.predictive import INNER_POLICIES, Predictive, PredictiveConfig
from policies.autoscalers.scheduled import Scheduled, ScheduledConfig, ScheduleWindow
from policies.autoscalers.step import StepAdjustment, StepConfig, StepScaling, StepScalingPolicy
from policies.autoscalers.target_tracking import (
    MetricTarget,
    PodSample,
    TargetTracking,
    TargetTrackingConfig,
    calculate_replicas,
)
from policies.autoscalers.threshold import Threshold, ThresholdConfig
from policies.autoscalers.victims import SELECTORS as VICTIM_SELECTORS
from policies.autoscalers.victims import Victim, VictimConfig, VictimPolicy, get_selector
from policies.registry import PolicyEntry

ENTRIES = (
    PolicyEntry("target_tracking", "autoscaler", TargetTrackingConfig, target_tracking.build,
                "Kubernetes HPA v2: ceil(current x metric / target), tolerance, behavior"),
    PolicyEntry("threshold", "autoscaler", ThresholdConfig, threshold.build,
                "step by k after N periods above/below CPU thresholds, with cooldowns"),
    PolicyEntry("step", "autoscaler", StepConfig, step.build,
                "AWS Application Auto Scaling step scaling behind CloudWatch-style alarms"),
    PolicyEntry("scheduled", "autoscaler", ScheduledConfig, scheduled.build,
                "weekly windows that override min/max, optionally around an inner policy"),
    PolicyEntry("predictive", "autoscaler", PredictiveConfig, predictive.build,
                "Holt-Winters / seasonal-naive forecast as a floor ahead of boot delay"),
    PolicyEntry("concurrency", "autoscaler", ConcurrencyConfig, concurrency.build,
                "KEDA-style ceil(total in-flight / target per instance), scale to zero"),
)

__all__ = [
    "ENTRIES",
    "INNER_POLICIES",
    "LEAF_POLICIES",
    "VICTIM_SELECTORS",
    "Concurrency",
    "ConcurrencyConfig",
    "MetricTarget",
    "PodSample",
    "Predictive",
    "PredictiveConfig",
    "ScalingPolicy",
    "ScalingRules",
    "Scheduled",
    "ScheduledConfig",
    "ScheduleWindow",
    "StepAdjustment",
    "StepConfig",
    "StepScaling",
    "StepScalingPolicy",
    "TargetTracking",
    "TargetTrackingConfig",
    "Threshold",
    "ThresholdConfig",
    "Victim",
    "VictimConfig",
    "VictimPolicy",
    "calculate_replicas",
    "get_selector",
    "inner_config",
]
