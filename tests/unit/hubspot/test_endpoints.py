import pytest

from wg_desktop.hubspot.client_config import ClientConfig
from wg_desktop.hubspot.endpoints import (
    ApiFamily,
    AuthMode,
    EndpointTable,
    OAuthGeneration,
    UnsupportedEndpoint,
)

from .fakes import API


def test_default_versions_are_v4_flows_2026_03_oauth_v3_account():
    table = EndpointTable.from_config(ClientConfig(api_base=API))
    assert table.route("oauth.token").path == "/oauth/2026-03/token"
    table = EndpointTable.from_config(ClientConfig(api_base=API, oauth_api_version="v1"))
    assert table.route("flows.list").path == "/automation/v4/flows"
    assert table.route("flows.get", flowId="42").path == "/automation/v4/flows/42"
    assert table.route("account.details").path == "/account-info/v3/details"
    assert table.route("oauth.token").path == "/oauth/v1/token"
    assert table.route("integrations.me").path == "/integrations/v1/me"
    assert table.route("workflows_v3.get", workflowId=7).path == "/automation/v3/workflows/7"


def test_switching_the_flows_version_is_a_setting():
    table = EndpointTable.from_config(ClientConfig(api_base=API,
                                                   flows_api_version="2026-09-beta",
                                                   account_api_version="2026-03"))
    route = table.route("flows.get", flowId="42")
    assert route.path == "/automation/2026-09-beta/flows/42"
    assert route.template == "/automation/2026-09-beta/flows/{flowId}"
    assert table.route("flows.batch_read").path == "/automation/2026-09-beta/flows/batch/read"
    assert table.route("account.details").path == "/account-info/2026-03/details"
    # legacy v3 workflows stay on v3 whatever the flows version
    assert table.route("workflows_v3.list").path == "/automation/v3/workflows"


def test_revisions_exist_only_in_date_versions():
    assert not EndpointTable(flows="v4").supports("flows.revision")
    with pytest.raises(UnsupportedEndpoint):
        EndpointTable(flows="v4").route("flows.revision", flowId="1", revisionId="2")
    route = EndpointTable(flows="2026-09-beta").route("flows.revision", flowId="1",
                                                      revisionId="2")
    assert route.path == "/automation/2026-09-beta/flows/1/revisions/2"


@pytest.mark.parametrize("kw", [dict(flows="v3"), dict(flows="latest"), dict(oauth="v2"),
                                dict(account="v4"), dict(flows="2026-13")])
def test_unknown_versions_are_rejected(kw):
    with pytest.raises(UnsupportedEndpoint):
        EndpointTable(**kw)


def test_oauth_v1_generation_shapes():
    table = EndpointTable(oauth="v1")
    assert table.oauth_generation is OAuthGeneration.V1
    token = table.route("oauth.token")
    assert (token.method, token.path, token.auth) == ("POST", "/oauth/v1/token",
                                                      AuthMode.CLIENT_CREDENTIALS)
    info = table.route("oauth.access_token_info", token="secret-at")
    assert (info.method, info.template) == ("GET", "/oauth/v1/access-tokens/{token}")
    assert info.path == "/oauth/v1/access-tokens/secret-at"
    assert "secret-at" not in repr(info)
    rinfo = table.route("oauth.refresh_token_info", token="rt")
    assert (rinfo.method, rinfo.path) == ("GET", "/oauth/v1/refresh-tokens/rt")
    revoke = table.route("oauth.revoke", token="rt")
    assert (revoke.method, revoke.path) == ("DELETE", "/oauth/v1/refresh-tokens/rt")


@pytest.mark.parametrize("version", ["2026-03", "v3"])
def test_oauth_new_generation_shapes(version):
    table = EndpointTable(oauth=version)
    assert table.oauth_generation is OAuthGeneration.MODERN
    assert table.route("oauth.token").path == f"/oauth/{version}/token"
    for name in ("oauth.access_token_info", "oauth.refresh_token_info"):
        route = table.route(name)
        assert (route.method, route.path) == ("POST", f"/oauth/{version}/token/introspect")
        assert route.idempotent
    revoke = table.route("oauth.revoke")
    assert (revoke.method, revoke.path) == ("POST", f"/oauth/{version}/token/revoke")


def test_idempotency_and_invalidation_come_from_the_table():
    table = EndpointTable()
    assert table.route("flows.list").idempotent
    assert table.route("flows.batch_read").idempotent          # a POST that only reads
    assert not table.route("flows.create").idempotent
    assert table.route("flows.update", flowId="1").idempotent   # PUT
    assert table.route("flows.get", flowId="1").auth is AuthMode.BEARER
    assert ApiFamily.FLOWS in table.route("flows.delete", flowId="1").spec.invalidates
    assert table.route("flows.get", flowId="1").spec.invalidates == ()


def test_read_only_comes_from_the_table():
    table = EndpointTable()
    assert table.route("flows.get", flowId="1").read_only
    assert table.route("flows.batch_read").read_only            # a POST that only reads
    assert table.route("account.details").read_only
    assert not table.route("flows.create").read_only
    assert not table.route("flows.update", flowId="1").read_only  # idempotent, but a write
    assert not table.route("flows.delete", flowId="1").read_only
    assert not table.route("oauth.token").read_only
    modern = EndpointTable(oauth="2026-03")
    assert modern.route("oauth.access_token_info").read_only      # introspection POST
    assert not modern.route("oauth.revoke").read_only


def test_path_params_are_checked_and_quoted():
    table = EndpointTable()
    assert table.route("flows.get", flowId="a/b c").path == "/automation/v4/flows/a%2Fb%20c"
    with pytest.raises(ValueError):
        table.route("flows.get")
    with pytest.raises(ValueError):
        table.route("flows.get", flowId="")
    with pytest.raises(UnsupportedEndpoint):
        table.route("flows.nope")


def test_with_versions_returns_a_new_table():
    table = EndpointTable()
    newer = table.with_versions(flows="2026-09-beta", oauth="2026-03")
    assert table.template("flows.list") == "/automation/v4/flows"
    assert newer.template("flows.list") == "/automation/2026-09-beta/flows"
    assert newer.version(ApiFamily.OAUTH) == "2026-03"
