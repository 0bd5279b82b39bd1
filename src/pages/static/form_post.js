// OAuth 2.0 Form Post Response Mode: send the authorization response at once. The page's
// button does the same without script.
document.getElementById("form-post").submit();
