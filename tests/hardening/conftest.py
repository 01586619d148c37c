"""The agent's fixtures (a fake Messages API, a small project, a clean SDK environment) for the security tests."""

from tests.agent.conftest import _sdk_environment, project  # noqa: F401
