"""The migration that moves a team's API onto api.API (hooks/api_methods.py), on the forms earlier releases
generated. The upgrade test shows the HTTP form builds after a real update; this one covers the gRPC form, which
no earlier release in the upgrade test has, a form it cannot rewrite, and a second run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

HOOK = PROJECT_ROOT / "hooks" / "api_methods.py"
OLD_SERVICES = """package api

import (
	"google.golang.org/grpc"

	hellov1 "example.com/orders/internal/gen/hello/v1"
)

// RegisterServices registers the API's gRPC services on s.
func RegisterServices(s grpc.ServiceRegistrar) {
	hellov1.RegisterHelloServiceServer(s, &helloService{})
	hellov1.RegisterHelloServiceServer(s, &ordersService{})
}
"""
OLD_SERVICE_TEST = """package api

func helloClient(t *testing.T) hellov1.HelloServiceClient {
	server := grpc.NewServer()
	RegisterServices(server)
	go func() { _ = server.Serve(listener) }()
}
"""


def migrate(project: Path) -> str:
    done = subprocess.run([sys.executable, str(HOOK)], cwd=project, capture_output=True, text=True, check=True)
    return done.stderr


def test_grpc_services_become_a_method_and_its_tests_call_it_on_an_api(tmp_path: Path) -> None:
    api = tmp_path / "internal" / "api"
    api.mkdir(parents=True)
    (api / "services.go").write_text(OLD_SERVICES)
    (api / "hello_service_test.go").write_text(OLD_SERVICE_TEST)

    said = migrate(tmp_path)

    services = (api / "services.go").read_text()
    assert "func (a *API) RegisterServices(s grpc.ServiceRegistrar) {\n" in services
    assert "&ordersService{}" in services, "the team's own service stays registered"
    assert "\t(&API{}).RegisterServices(server)\n" in (api / "hello_service_test.go").read_text()
    assert said.count("now methods of API") == 2
    assert migrate(tmp_path) == "", "a second update has nothing to move"
    assert (api / "services.go").read_text() == services


def test_a_declaration_it_cannot_rewrite_is_named_with_what_to_change(tmp_path: Path) -> None:
    api = tmp_path / "internal" / "api"
    api.mkdir(parents=True)
    routes = "package api\n\nfunc AddRoutes(mux *http.ServeMux, deps Things) {\n}\n"
    (api / "routes.go").write_text(routes)

    said = migrate(tmp_path)

    assert (api / "routes.go").read_text() == routes
    assert "routes.go still declares func AddRoutes: the server now calls the method (*API).AddRoutes" in said
