// swagger-ui-dist ships no types: the little of its API the docs page uses.
declare module "swagger-ui-dist/swagger-ui-es-bundle.js" {
  interface SwaggerRequest {
    url: string;
    headers: Record<string, string>;
  }
  interface SwaggerOptions {
    url: string;
    domNode: HTMLElement;
    deepLinking?: boolean;
    tryItOutEnabled?: boolean;
    requestInterceptor?: (req: SwaggerRequest) => SwaggerRequest;
  }
  const SwaggerUI: (options: SwaggerOptions) => unknown;
  export default SwaggerUI;
}
declare module "swagger-ui-dist/swagger-ui.css";
