"""JEC member assistant: custom actions, gateway, services and data layer."""
