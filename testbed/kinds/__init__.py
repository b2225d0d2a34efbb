"""System kinds (circuit, network, classifier), registered in SYSTEM_KINDS; see testbed.kinds.base for the
contract a new kind follows."""

from testbed.kinds.base import SYSTEM_KINDS, BuildContext, Problems, SystemKind
from testbed.kinds.circuit import Circuit, CircuitSpec
from testbed.kinds.classifier import ClassifierSpec, NetlistClassifier
from testbed.kinds.network import Network, NetworkSpec

__all__ = ["SYSTEM_KINDS", "BuildContext", "Circuit", "CircuitSpec", "ClassifierSpec", "NetlistClassifier",
           "Network", "NetworkSpec", "Problems", "SystemKind"]
