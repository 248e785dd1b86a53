from .build import DemoReport, build_demo

__all__ = ["DemoReport", "build_demo"]
