from httpx import AsyncClient


async def test_health_reports_app_and_version(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["app"] == "TaskHub API"
    assert body["version"]
