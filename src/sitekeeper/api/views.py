from ninja import NinjaAPI

api = NinjaAPI(title="sitekeeper", version="1", urls_namespace="api")
