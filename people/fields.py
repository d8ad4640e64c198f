"""The API's (Infobip's) spelling of person fields and the model's, in one place."""

# API name -> model field, for the standard attributes a caller may write.
PERSON_ATTRIBUTES: dict[str, str] = {
    "externalId": "external_id",
    "type": "type",
    "firstName": "first_name",
    "middleName": "middle_name",
    "lastName": "last_name",
    "nickName": "nick_name",
    "gender": "gender",
    "birthDate": "birth_date",
    "address": "address",
    "city": "city",
    "country": "country",
    "preferredLanguage": "preferred_language",
    "profilePicture": "profile_picture",
}
API_NAME: dict[str, str] = {model: api for api, model in PERSON_ATTRIBUTES.items()}

COMPANY_ATTRIBUTES: dict[str, str] = {
    "name": "name",
    "externalId": "external_id",
    "notes": "notes",
    "country": "country",
    "region": "region",
    "accountManager": "account_manager",
    "customerStage": "customer_stage",
    "industry": "industry",
    "segment": "segment",
    "vatNumber": "vat_number",
    "domains": "domains",
}
COMPANY_API_NAME: dict[str, str] = {model: api for api, model in COMPANY_ATTRIBUTES.items()}

# Standard attributes cleared to "" (not NULL) when a PUT leaves them out.
NULLABLE_ATTRIBUTES = {"external_id", "birth_date"}


def api_name(model_field: str) -> str:
    return API_NAME.get(model_field, model_field)
