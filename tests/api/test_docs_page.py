def test_api_docs_page_is_served_from_here_with_its_language(client, world):
    """/api/docs works offline and under the site's CSP: Swagger UI from our static files."""
    resp = client.get("/api/docs")
    html = resp.content.decode()
    assert resp.status_code == 200 and '<html lang="en">' in html
    assert "swagger-ui-bundle.js" in html and "cdn." not in html
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200
