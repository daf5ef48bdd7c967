"""The OpenAPI schema and the interactive docs, served with no CDN."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

CONTRACT_PATHS = [
    "/api/v1/auth/token/",
    "/api/v1/topics/",
    "/api/v1/questions/",
    "/api/v1/questions/{id}/",
    "/api/v1/questions/{id}/versions/",
    "/api/v1/versions/{id}/submit/",
    "/api/v1/versions/{id}/approve/",
    "/api/v1/versions/{id}/reject/",
    "/api/v1/attempts/",
    "/api/v1/attempts/{id}/",
    "/api/v1/attempts/{id}/regrade/",
    "/api/v1/me/progress/",
    "/api/v1/reviews/due/",
    "/api/v1/assessments/",
    "/api/v1/assessments/{id}/invitations/",
    "/api/v1/invitations/{id}/",
    "/api/v1/assessments/{id}/results.csv",
    "/api/v1/webhooks/",
    "/api/v1/take/{token}/",
    "/api/v1/take/{token}/answers/",
    "/api/v1/take/{token}/submit/",
]


def test_schema_lists_every_endpoint_of_the_contract(api_client) -> None:
    response = api_client().get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    missing = [path for path in CONTRACT_PATHS if path not in schema["paths"]]
    assert missing == []
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_docs_page_loads_every_asset_from_our_static_files(api_client) -> None:
    response = api_client().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the page references its scripts and styles"
    for asset in assets:
        parts = urlsplit(asset)
        assert not parts.scheme and not parts.netloc, f"external asset {asset}"
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), f"{asset} is not among the static files"
        else:  # the start-up script, served by the docs view itself
            script = api_client().get(asset)
            assert script.status_code == 200 and "javascript" in script["Content-Type"], asset
            assert "/api/v1/schema/" in script.content.decode()
    assert "cdn" not in html.lower()
    # No inline script: the page runs under the site's Content Security Policy.
    assert not re.search(r"<script>\s*\S", html)
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_in_chromium_without_leaving_the_server(live_server) -> None:
    """Real Chromium opens the docs: every request goes to our server and the operations render."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    import shutil

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Chromium is not installed")
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{live_server.url}/api/v1/docs/")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert any("/api/v1/attempts/" in path for path in paths)
    outside = [url for url in requested if not url.startswith(live_server.url) and not url.startswith("data:")]
    assert outside == []
    assert any(url.endswith("swagger-ui-bundle.js") for url in requested)
