from tui.redact import MASK, is_secret_key, mask_url, redact_deep, redact_mapping, redact_text


def test_secret_keys_are_recognised():
    for key in ["DB_PASSWORD", "SECRET_KEY", "GITHUB_TOKEN", "API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_CLIENT_SECRET", "SENTRY_DSN", "x.db.password", "PGPASSWORD"]:
        assert is_secret_key(key), key
    for key in ["PATH", "HOME", "KEYBOARD_LAYOUT", "LANG", "DATABASE_HOST", "PORT", "AWS_CA_BUNDLE", "AWS_REGION"]:
        assert not is_secret_key(key), key


def test_url_passwords_are_masked_but_the_rest_stays():
    url = "postgresql://app:s3cr3t@db.internal:5432/shop?sslmode=require"
    masked = mask_url(url)
    assert "s3cr3t" not in masked
    assert masked == f"postgresql://app:{MASK}@db.internal:5432/shop?sslmode=require"


def test_free_text_secrets_are_masked():
    text = "python app.py --password hunter2x --db mysql://root:pw123@h/db token=abc.def Authorization: Bearer eyJhbGciOi.x.y"
    out = redact_text(text)
    for secret in ["pw123", "abc.def", "eyJhbGciOi.x.y"]:
        assert secret not in out
    assert "python app.py" in out


def test_mappings_mask_by_key_and_deep_redaction_masks_urls():
    env = redact_mapping({"DB_PASSWORD": "hunter2", "DATABASE_URL": "postgres://u:pw@h/d", "HOME": "/root"})
    assert env == {"DB_PASSWORD": MASK, "DATABASE_URL": f"postgres://u:{MASK}@h/d", "HOME": "/root"}
    doc = redact_deep({"rows": [{"cmdline": "run --url redis://:topsecret@cache:6379/0"}], "n": 3})
    assert "topsecret" not in str(doc) and doc["n"] == 3


def test_passwords_with_slashes_and_at_signs_are_masked_whole():
    for url in ["postgresql://u:Sekr3t/pw@127.0.0.1:1/x", "mysql://u:Sekr3t@pw@127.0.0.1:1/x"]:
        masked = redact_text(url)
        assert "Sekr3t" not in masked and "pw@" not in masked and masked.endswith("@127.0.0.1:1/x")


def test_secrets_in_sql_json_headers_query_strings_flags_and_jwts_are_masked():
    samples = [
        "CREATE ROLE r LOGIN PASSWORD 'Sekr3tQ'",
        "ALTER USER 'root'@'localhost' IDENTIFIED BY 'Sekr3tM'",
        "{'password': 'Sekr3tL1', 'user': 'bob'}",
        '{"access_token": "Sekr3tH1", "n": 1}',
        "X-Auth-Token: Sekr3tH3",
        "Location: https://x/cb?code=Sekr3tH4&state=ok",
        "run --password Sekr3tC3 --user bob",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.Sekr3tsig",
    ]
    for text in samples:
        assert "Sekr3t" not in redact_text(text), text
    assert redact_text("{'password': 'x', 'user': 'bob'}").endswith("'user': 'bob'}")


def test_mysql_pwd_is_secret_but_the_working_directory_is_not():
    assert is_secret_key("MYSQL_PWD") and is_secret_key("X-Api-Key")
    assert not is_secret_key("PWD") and not is_secret_key("OLDPWD")


def test_deep_redaction_masks_fields_named_like_secrets_but_keeps_key_names():
    doc = redact_deep({"locals": {"api_token": "Sekr3tT", "n": "1"}, "rows": [{"key": "DB_PASSWORD", "status": "same"}]})
    assert doc["locals"]["api_token"] == MASK and doc["locals"]["n"] == "1"
    assert doc["rows"][0]["key"] == "DB_PASSWORD"
