def test_home_page_lists_published_activities_in_chinese(client, make):
    make.activity("花卉养护课")
    make.activity("草稿活动", publish=False)
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "花卉养护课" in page
    assert "草稿活动" not in page
