using MediatR;

namespace ChatSlices.Infrastructure.Mediation;

public sealed class ValidationBehavior<TRequest, TResponse> : IPipelineBehavior<TRequest, TResponse>
{
    public Task<TResponse> Handle(TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        if (request is IValidated validated)
        {
            var errors = new ValidationErrors();
            validated.Validate(errors);
            if (errors.Any) throw new RequestValidationException(errors.ToDictionary());
        }
        return next();
    }
}
